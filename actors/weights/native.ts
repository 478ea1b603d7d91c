/**
 * The two native calls the weight data plane wants and Deno does not offer: `mmap` (libc), so same-host consumers
 * read a published segment in place instead of copying it, and OpenSSL's SHA-256 (libcrypto, SHA-NI), measured
 * at ~2.5x node:crypto's in Deno 2.9 on this machine. Both go through Deno FFI and are optional: without FFI
 * permission or the libraries, {@link native} is `undefined` and callers use plain reads and node:crypto.
 */

const MAP_PROT_READ_WRITE = 1 | 2;
// Private, so a stray write into a tensor view copies the page instead of faulting or touching the shared file.
const MAP_PRIVATE = 2;
const MAP_SHARED = 1;
const O_RDONLY = 0;
const O_RDWR = 2;
// OpenSSL's SHA256_CTX is 112 bytes; a little spare.
const SHA256_CTX_BYTES = 128;

/** The loaded native helpers. */
export interface Native {
  /** Maps `length` bytes of `path` copy-on-write; unmapped when the returned array is garbage collected. */
  map(path: string, length: number): Uint8Array;
  /**
   * Unmaps an array returned by `map` now rather than when it is collected (a freed version gives its pages back
   * at once). The caller guarantees nothing reads the array or a view of it afterwards: that would fault.
   */
  unmap(view: Uint8Array): boolean;
  /**
   * Maps `length` bytes of `path` shared and writable: what a download receives into, so received bytes land in
   * the file's pages with no buffer between. The bytes are allocated first (a full filesystem throws
   * {@link NativeSpaceError} here, not a SIGBUS later). Released like `map`'s arrays.
   */
  mapWritable(path: string, length: number): Uint8Array;
  /** SHA-256 of `bytes` on a worker thread. */
  sha256(bytes: Uint8Array): Promise<Uint8Array>;
  /** An incremental SHA-256: each update runs on a worker thread, in order. */
  sha256Stream(): { update(bytes: Uint8Array): Promise<void>; digest(): Promise<Uint8Array> };
}

/** `mapWritable` could not reserve the file's bytes (errno 28 is ENOSPC: the filesystem is full). */
export class NativeSpaceError extends Error {
  override name = "NativeSpaceError";
}

let loaded: Native | null | undefined;

/** The native helpers, or `undefined` when FFI or a library is unavailable (then nothing native is used). */
export function native(): Native | undefined {
  if (loaded === undefined) loaded = tryLoad();
  return loaded ?? undefined;
}

const CRYPTO_SYMBOLS = {
  SHA256: { parameters: ["buffer", "usize", "buffer"], result: "pointer", nonblocking: true },
  SHA256_Init: { parameters: ["buffer"], result: "i32" },
  SHA256_Update: { parameters: ["buffer", "buffer", "usize"], result: "i32", nonblocking: true },
  SHA256_Final: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

/** An incremental SHA-256 whose updates run one after another on worker threads. */
function sha256Stream(crypto: Deno.DynamicLibrary<typeof CRYPTO_SYMBOLS>): ReturnType<Native["sha256Stream"]> {
  const context = new Uint8Array(SHA256_CTX_BYTES);
  crypto.symbols.SHA256_Init(context);
  let chain: Promise<unknown> = Promise.resolve();
  return {
    update(bytes) {
      const run = chain.then(() => crypto.symbols.SHA256_Update(context, bytes, BigInt(bytes.byteLength)));
      chain = run;
      return run.then(() => {});
    },
    async digest() {
      await chain;
      const out = new Uint8Array(32);
      crypto.symbols.SHA256_Final(out, context);
      return out;
    },
  };
}

function tryLoad(): Native | null {
  if (Deno.env.get("COOP_WEIGHTS_NATIVE") === "0") return null;
  try {
    if (Deno.build.os !== "linux" || Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    const libc = Deno.dlopen("libc.so.6", {
      open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
      close: { parameters: ["i32"], result: "i32" },
      mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
      munmap: { parameters: ["pointer", "usize"], result: "i32" },
      posix_fallocate: { parameters: ["i32", "i64", "i64"], result: "i32" },
    });
    const crypto = Deno.dlopen("libcrypto.so.3", CRYPTO_SYMBOLS);
    // The mapping lives exactly as long as some view of it: tensors built on it keep it alive, and once the last
    // one is collected the pages go back (the file may be long deleted by then; the mapping held its inode).
    const unmap = new FinalizationRegistry<{ pointer: Deno.PointerValue; length: number }>((held) => {
      libc.symbols.munmap(held.pointer, BigInt(held.length));
    });
    const mappings = new WeakMap<ArrayBuffer, { pointer: Deno.PointerValue; length: number }>();
    const mapFile = (path: string, length: number, writable: boolean) => {
      if (length === 0) return new Uint8Array(0);
      const fd = libc.symbols.open(new TextEncoder().encode(`${path}\0`), writable ? O_RDWR : O_RDONLY, 0);
      if (fd < 0) throw new Error(`open(${path}) failed`);
      // A written mapping's page that the filesystem has no room for is a SIGBUS: take all the room up front.
      const failed = writable ? libc.symbols.posix_fallocate(fd, 0n, BigInt(length)) : 0;
      if (failed !== 0) {
        libc.symbols.close(fd);
        throw new NativeSpaceError(`posix_fallocate(${path}, ${length}) failed: errno ${failed}`);
      }
      const flags = writable ? MAP_SHARED : MAP_PRIVATE;
      const pointer = libc.symbols.mmap(null, BigInt(length), MAP_PROT_READ_WRITE, flags, fd, 0n);
      libc.symbols.close(fd);
      // MAP_FAILED is (void*)-1.
      if (pointer === null || Deno.UnsafePointer.value(pointer) === 0xffffffffffffffffn) {
        throw new Error(`mmap(${path}, ${length}) failed`);
      }
      const buffer = Deno.UnsafePointerView.getArrayBuffer(pointer, length);
      const held = { pointer, length };
      unmap.register(buffer, held, buffer);
      mappings.set(buffer, held);
      return new Uint8Array(buffer);
    };
    return {
      map: (path, length) => mapFile(path, length, false),
      mapWritable: (path, length) => mapFile(path, length, true),
      unmap(view) {
        const buffer = view.buffer as ArrayBuffer;
        const held = mappings.get(buffer);
        if (held === undefined) return false;
        mappings.delete(buffer);
        unmap.unregister(buffer);
        libc.symbols.munmap(held.pointer, BigInt(held.length));
        return true;
      },
      async sha256(bytes) {
        const out = new Uint8Array(32);
        await crypto.symbols.SHA256(bytes, BigInt(bytes.byteLength), out);
        return out;
      },
      sha256Stream: () => sha256Stream(crypto),
    };
  } catch {
    return null;
  }
}
