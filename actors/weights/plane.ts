/**
 * One process's view of the weight data plane. `publish` writes a version once into this host's segment
 * directory (shared memory), puts its control record — digest, chunk digests, where to download it — in the
 * cluster's NATS KV, and copies it to the Object Store in the background (the durable copy and the fallback).
 * `load` takes the cheapest source that works and checks what it got against the record's digest: a complete
 * segment on this host (mapped, no network), else a download from the publisher's server into this host's
 * directory (shared with the other consumers here), else the Object Store. `retire` drops a version everywhere.
 */
import { decode, encode } from "../../shared/mod.ts";
import { createLogger } from "../../shared/mod.ts";
import type { Tensor } from "../../shared/mod.ts";
import { basename } from "node:path";
import {
  type BlobStore,
  KvConflictError,
  type KvStore,
  type Transport,
  type TransportSubscription,
} from "../../shared/mod.ts";
import { digestBytes, type WeightDigest } from "./digest.ts";
import { SegmentSpaceError, WeightPlaneError } from "./errors.ts";
import { downloadSegment } from "./fetch.ts";
import { type CheckedBy, mapOrRead, openSegment, releaseMapping, verifyBytes } from "./local.ts";
import { castTensors } from "./precision.ts";
import {
  checkKey,
  completeSegment,
  findSegment,
  layoutSegment,
  removeSegments,
  sealSegment,
  segmentBytes,
  segmentFile,
  type SegmentKey,
  type SegmentSeal,
  sweepSegments,
  type WeightDtype,
  writeSegment,
} from "./segment.ts";

/** Default segment directory: shared memory where there is some. */
export function defaultWeightsDir(): string {
  try {
    if (Deno.statSync("/dev/shm").isDirectory) return "/dev/shm/coop-weights";
  } catch { /* no /dev/shm */ }
  return `${Deno.env.get("TMPDIR") ?? "/tmp"}/coop-weights`;
}

/** A version's control record (KV): small, and all a consumer needs to find and check the bytes. */
export interface WeightManifest extends WeightDigest {
  name: string;
  version: number;
  dtype: WeightDtype;
  /** Object Store name of the durable copy. */
  blob: string;
  /** Where the segment can be downloaded (empty when it could not be written, e.g. a full /dev/shm). */
  sources: { url: string; token: string; file: string }[];
}

/** How a version was loaded. */
export type LoadedVia = "shm" | "http" | "object-store";

/** A loaded version: its safetensors-layout bytes (checked) and where they came from. */
export interface LoadedWeights {
  data: Uint8Array;
  digest: string;
  dtype: WeightDtype;
  via: LoadedVia;
  /**
   * How the bytes were checked against `digest`: hashed by this process, or (same-host segments) sealed by the
   * host's verifier — the publisher or the consumer that downloaded it — and unchanged since (docs/weights.md).
   */
  checked: CheckedBy;
  /** Why cheaper sources were skipped (for logs and tests). */
  skipped: string[];
  /** The server a download came from (`via` "http"). */
  source?: string;
  /**
   * Unmaps `data` now when it is a mapping (no-op otherwise, and the second time). Call it once nothing views
   * `data` any more — a version being replaced; left uncalled, the mapping goes when `data` is collected.
   */
  release(): void;
}

/** Most download sources a control record lists (the publisher first, then hosts that re-serve the version). */
export const MAX_SOURCES = 16;

/** Options for {@link WeightPlane}. */
export interface WeightPlaneOptions {
  cluster: string;
  transport: Transport;
  /** This host's segment directory (default {@link defaultWeightsDir}). */
  dir?: string;
  /** Byte cap for the directory (full → publish without a segment, consumers use the Object Store). */
  maxBytes?: number;
  /** The server that serves `dir` to other hosts, if any (a node agent's, usually). */
  server?: { url: string; token: string };
  /** Object Store bucket (default `coop_<cluster>_blobs`). */
  blobBucket?: string;
  /** Parallel streams per download (default 4). */
  streams?: number;
  /**
   * The Object Store copy: `await` (default; publish returns once it is stored, so a stopped or killed learner
   * leaves no half-written object), `background` (publish returns once the segment and record are out; the copy
   * follows, one at a time — env COOP_WEIGHTS_DURABLE=background), or `none` (benchmarks: data plane only).
   */
  durable?: "await" | "background" | "none";
}

/** What publishing one variant gave. */
export interface PublishedVariant {
  dtype: WeightDtype;
  digest: string;
  bytes: number;
  /** False when no segment could be written (the version is then only in the Object Store). */
  segment: boolean;
}

/** The KV bucket of control records. */
export function manifestBucket(cluster: string): string {
  return `coop_${cluster}_weights`;
}

/** Subject announcing retired versions (every plane with a directory deletes their segments). */
export function retireSubject(cluster: string): string {
  return `coop.${cluster}.weights.retire`;
}

/** Blob name of a variant: the plain name for float32 (what older readers read), suffixed otherwise. */
export function variantBlob(name: string, dtype: WeightDtype): string {
  return dtype === "float32" ? name : `${name}.${dtype}`;
}

/** The data plane for one process. */
export class WeightPlane {
  readonly cluster: string;
  readonly dir: string;
  readonly #options: WeightPlaneOptions;
  readonly #log = createLogger({ component: "weights" });
  #kv: Promise<KvStore> | undefined;
  #blobs: Promise<BlobStore> | undefined;
  #durable: Promise<void> = Promise.resolve();
  #retired: TransportSubscription | undefined;

  constructor(options: WeightPlaneOptions) {
    this.cluster = options.cluster;
    this.dir = options.dir ?? defaultWeightsDir();
    this.#options = options;
    sweepSegments(this.dir);
  }

  #kvStore(): Promise<KvStore> {
    this.#kv ??= this.#options.transport.kv(manifestBucket(this.cluster));
    return this.#kv;
  }

  #blobStore(): Promise<BlobStore> {
    this.#blobs ??= this.#options.transport.blobs(this.#options.blobBucket ?? `coop_${this.cluster}_blobs`);
    return this.#blobs;
  }

  /** Deletes this host's segments of retired versions as they are announced; call once per host (agents). */
  listenForRetired(): void {
    this.#retired ??= this.#options.transport.subscribe(retireSubject(this.cluster), {
      onMessage: (msg) => {
        const retired = decode(msg.data) as { name?: unknown; digests?: unknown };
        if (typeof retired?.name !== "string" || !Array.isArray(retired.digests)) return;
        try {
          removeSegments(this.dir, this.cluster, retired.name, retired.digests.filter((d) => typeof d === "string"));
        } catch { /* not a valid name: nothing of ours */ }
      },
    });
  }

  /** Publishes `tensors` as version `version` of `name` in each of `dtypes` (default float32). */
  async publish(
    name: string,
    version: number,
    tensors: ReadonlyMap<string, Tensor>,
    options: { dtypes?: readonly WeightDtype[] } = {},
  ): Promise<PublishedVariant[]> {
    const out: PublishedVariant[] = [];
    for (const dtype of options.dtypes ?? ["float32"]) {
      out.push(await this.#publishVariant(name, version, tensors, dtype));
    }
    return out;
  }

  async #publishVariant(
    name: string,
    version: number,
    source: ReadonlyMap<string, Tensor>,
    dtype: WeightDtype,
  ): Promise<PublishedVariant> {
    const key = checkKey({ cluster: this.cluster, name, dtype });
    const tensors = castTensors(source, dtype);
    const layout = layoutSegment(tensors, { format: "pt", version: String(version), dtype });
    const file = segmentFile(key, Deno.pid);
    let data: Uint8Array;
    let path: string | undefined;
    let seal: SegmentSeal | undefined;
    try {
      path = await writeSegment(this.dir, file, tensors, layout, { maxBytes: this.#options.maxBytes });
      // Read-only before it is hashed: the digest then describes the sealed file same-host consumers map.
      seal = sealSegment(path);
      data = mapOrRead(path, layout.bytes).data;
    } catch (error) {
      if (!(error instanceof SegmentSpaceError)) throw error;
      this.#log.warn(`${error.message}; "${name}" goes through the Object Store only`);
      data = segmentBytes(tensors, layout);
    }
    const digest = await digestBytes(data);
    const blob = variantBlob(name, dtype);
    if (path !== undefined) await completeSegment(path, { ...digest, name, dtype, version, pid: Deno.pid, seal });
    const server = this.#options.server;
    const manifest: WeightManifest = {
      ...digest,
      name,
      version,
      dtype,
      blob,
      sources: path !== undefined && server !== undefined ? [{ ...server, file }] : [],
    };
    await (await this.#kvStore()).put(`${name}.${dtype}`, encode(manifest));
    // Consumers can load from the segment from here on; the durable copy follows, one upload at a time.
    const mode = this.#options.durable ??
      (Deno.env.get("COOP_WEIGHTS_DURABLE") === "background" ? "background" : "await");
    // The publisher's own view of the segment goes as soon as the durable copy no longer needs it.
    if (mode === "none") {
      releaseMapping(data);
    } else {
      const upload = this.#durable.then(async () => {
        await (await this.#blobStore()).put(blob, data, { version: String(version) });
      }).finally(() => releaseMapping(data));
      this.#durable = upload.catch((error) => this.#log.warn(`Cannot store "${blob}": ${(error as Error).message}`));
      if (mode === "await") await upload;
    }
    return { dtype, digest: digest.digest, bytes: data.byteLength, segment: path !== undefined };
  }

  /** Resolves once every durable copy started so far is in the Object Store. */
  async flush(): Promise<void> {
    await this.#durable;
  }

  /** The control record of a version, or `null` (never published through a plane, or retired). */
  async manifest(name: string, dtype: WeightDtype = "float32"): Promise<WeightManifest | null> {
    const raw = await (await this.#kvStore()).get(`${name}.${checkKey({ cluster: this.cluster, name, dtype }).dtype}`);
    return raw === null ? null : decode(raw) as WeightManifest;
  }

  /**
   * Loads version `name` in `dtype`: this host's segment, a download, or the Object Store, checked against the
   * control record's digest. Throws {@link WeightPlaneError} listing what was tried when no source worked.
   */
  async load(name: string, dtype: WeightDtype = "float32"): Promise<LoadedWeights> {
    const manifest = await this.manifest(name, dtype);
    if (manifest === null) throw new WeightPlaneError(`No weight version "${name}" (${dtype}) is published`);
    const key: SegmentKey = { cluster: this.cluster, name, dtype };
    const skipped: string[] = [];
    type Got = { data: Uint8Array; checked: CheckedBy };
    const attempt = async (via: LoadedVia, get: () => Promise<Got>): Promise<LoadedWeights | undefined> => {
      try {
        const { data, checked } = await get();
        return {
          data,
          digest: manifest.digest,
          dtype,
          via,
          checked,
          skipped,
          release: () => void releaseMapping(data),
        };
      } catch (error) {
        skipped.push(`${via}: ${(error as Error).message}`);
        return undefined;
      }
    };
    const local = findSegment(this.dir, key, manifest.digest);
    let loaded = local === undefined
      ? undefined
      : await attempt("shm", () => openSegment(local.path, local.info, manifest, `shm "${name}"`));
    for (const source of downloadOrder(manifest.sources, this.#options.server?.url)) {
      if (loaded !== undefined) break;
      const info = { ...manifest, name, dtype };
      let fetched: string | undefined;
      loaded = await attempt("http", async () => {
        const got = await downloadSegment({ dir: this.dir, key, info, source, streams: this.#options.streams });
        // Fetched here: every chunk was hashed as it arrived. Fetched by another consumer on this host: a
        // same-host segment, checked as such (by the seal its downloader recorded).
        if (!got.fetched) return await openSegment(got.path, got.info, manifest, `shm "${name}"`);
        fetched = basename(got.path);
        return { data: mapOrRead(got.path, manifest.bytes).data, checked: "hashed" };
      });
      if (loaded === undefined) continue;
      if (fetched === undefined) {
        loaded.via = "shm";
      } else {
        loaded.source = source.url;
        await this.#advertise(name, dtype, manifest.digest, fetched);
      }
    }
    loaded ??= await attempt("object-store", async () => {
      const { data } = await this.#waitForBlob(manifest.blob);
      await verifyBytes(data, manifest, `object-store "${name}"`);
      return { data, checked: "hashed" };
    });
    if (loaded === undefined) {
      throw new WeightPlaneError(`Cannot load weight version "${name}" (${dtype}): ${skipped.join("; ")}`);
    }
    if (loaded.via !== "shm" && skipped.length > 0) {
      this.#log.warn(`"${name}" came via ${loaded.via}: ${skipped.join("; ")}`);
    }
    return loaded;
  }

  /**
   * Adds this host's server as a source of a version it just downloaded (fan-out: the next host pulls from here,
   * not from the publisher). Best effort: a record that changed meanwhile is re-read, one that is gone or now
   * names another digest is left alone, and a failure only costs the fan-out.
   */
  async #advertise(name: string, dtype: WeightDtype, digest: string, file: string): Promise<void> {
    const server = this.#options.server;
    if (server === undefined) return;
    const kv = await this.#kvStore();
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const entry = await kv.entry(`${name}.${dtype}`);
        if (entry === null) return;
        const manifest = decode(entry.value) as WeightManifest;
        if (manifest.digest !== digest || manifest.sources.some((s) => s.url === server.url)) return;
        if (manifest.sources.length >= MAX_SOURCES) return;
        manifest.sources = [...manifest.sources, { ...server, file }];
        await kv.update(`${name}.${dtype}`, encode(manifest), entry.revision);
        return;
      } catch (error) {
        if (error instanceof KvConflictError) continue;
        this.#log.warn(`Cannot advertise "${name}" from this host: ${(error as Error).message}`);
        return;
      }
    }
  }

  /** The durable copy, which may still be uploading right after a publish. */
  async #waitForBlob(blob: string, timeoutMs = 60_000): Promise<{ data: Uint8Array }> {
    const store = await this.#blobStore();
    const deadline = Date.now() + timeoutMs;
    while ((await store.info(blob)) === null) {
      if (Date.now() > deadline) throw new WeightPlaneError(`Blob "${blob}" did not appear within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return await store.get(blob);
  }

  /** Stops listening. */
  close(): void {
    this.#retired?.unsubscribe();
  }
}

/**
 * The order a consumer tries download sources in: the hosts that re-serve the version newest first (the least
 * asked), the publisher last, and never this host's own server (its segment would have been found locally).
 */
export function downloadOrder<S extends { url: string }>(sources: readonly S[], own?: string): S[] {
  return sources.filter((s) => s.url !== own).reverse();
}

/** The digests version `name` was published with (one per precision; empty when it was not, or is retired). */
export async function publishedDigests(transport: Transport, cluster: string, name: string): Promise<string[]> {
  const kv = await transport.kv(manifestBucket(cluster));
  const out: string[] = [];
  for (const dtype of ["float32", "float16", "bfloat16"] as const) {
    const raw = await kv.get(`${name}.${dtype}`);
    if (raw !== null) out.push((decode(raw) as WeightManifest).digest);
  }
  return out;
}

/**
 * Retires version `name` cluster-wide: drops its control records and Object Store copies, and tells every plane
 * to delete its segments (a consumer that mapped one keeps its pages until it lets go of them).
 */
export async function retireWeights(transport: Transport, cluster: string, name: string): Promise<void> {
  const kv = await transport.kv(manifestBucket(cluster));
  const blobs = await transport.blobs(`coop_${cluster}_blobs`);
  const digests: string[] = [];
  for (const dtype of ["float32", "float16", "bfloat16"] as const) {
    const raw = await kv.get(`${name}.${dtype}`).catch(() => null);
    if (raw !== null) digests.push((decode(raw) as WeightManifest).digest);
    await kv.delete(`${name}.${dtype}`).catch(() => {});
    await blobs.delete(variantBlob(name, dtype)).catch(() => {});
  }
  // Planes delete only segments holding these digests: another cluster's files under the same name stay.
  if (digests.length > 0) await transport.publish(retireSubject(cluster), encode({ name, digests }));
}
