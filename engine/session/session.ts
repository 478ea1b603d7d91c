/**
 * onnxruntime-node sessions created from in-memory model bytes, and zero-copy conversion between Coop's `Tensor`
 * and `ort.Tensor` (both are a typed array plus a shape, so each wraps the other's buffer).
 */
import * as ort from "onnxruntime-node";
import { CoopError } from "../../shared/mod.ts";
import { type DType, Tensor } from "../../shared/mod.ts";

/** Where a session runs. `cuda` needs the onnxruntime-node CUDA build. */
export type ExecutionProvider = "cpu" | "cuda";

/** Options of `createSession`. */
export interface SessionOptions {
  /** Execution provider (default "cpu"). */
  executionProvider?: ExecutionProvider;
  /** Threads inside one op (default: onnxruntime's choice, all cores). */
  intraOpThreads?: number;
  /** Threads across independent ops (default 1: the graphs are mostly chains). */
  interOpThreads?: number;
  /** Graph optimization level (default "all"). */
  optimization?: "disabled" | "basic" | "extended" | "all";
  /** CUDA device id when executionProvider is "cuda" (default 0). */
  deviceId?: number;
  /**
   * Let idle intra-op threads spin between ops (onnxruntime's default, true). Turning it off gives cores back sooner
   * on a machine shared with other work.
   */
  spinWait?: boolean;
  /**
   * onnxruntime's CPU memory arena (default true). Off, intermediates are malloc'd and freed per run, so the process
   * does not keep the arena's high-water mark between runs.
   */
  memArena?: boolean;
  /** Plan intermediates into one pre-sized block per input shape (onnxruntime's memory pattern, default true). */
  memPattern?: boolean;
  /** Write an onnxruntime profile (Chrome trace JSON) with this file prefix; for finding slow ops. */
  profilePrefix?: string;
}

/** Raised when a session cannot be created or run; the message names the session and what failed. */
export class SessionError extends CoopError {
  override name = "SessionError";
}

/** A value that can be fed to a session. */
export type Feed = Tensor | ort.Tensor;

const ORT_TYPES: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: "float32",
  float64: "float64",
  float16: "float16",
  int32: "int32",
  int64: "int64",
  uint8: "uint8",
  int8: "int8",
  bool: "bool",
};

/** Wraps a Coop tensor as an ort.Tensor over the same buffer (no copy). */
export function toOrt(t: Tensor): ort.Tensor {
  const type = ORT_TYPES[t.dtype];
  if (type === undefined) {
    throw new SessionError(`Cannot convert a ${t.dtype} tensor to onnxruntime: unsupported dtype`);
  }
  return new ort.Tensor(type, t.data as never, [...t.shape]);
}

/** Wraps an ort.Tensor (on the CPU) as a Coop tensor over the same buffer (no copy). */
export function fromOrt(t: ort.Tensor): Tensor {
  const dtype = t.type as DType;
  if (!(dtype in ORT_TYPES)) {
    throw new SessionError(`Cannot convert an onnxruntime ${t.type} tensor: unsupported dtype`);
  }
  return new Tensor(dtype, t.dims, t.data as never);
}

/** An onnxruntime session with typed feeds and fetches. */
export class Session {
  readonly name: string;
  readonly inner: ort.InferenceSession;

  constructor(name: string, inner: ort.InferenceSession) {
    this.name = name;
    this.inner = inner;
  }

  /** Input names the model declares. */
  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }

  /** Output names the model declares. */
  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  /**
   * Runs the model and returns ort tensors. `fetches` names the outputs to compute, as a list or as a record whose
   * tensors are pre-allocated outputs onnxruntime writes into (null: let it allocate), even when such a buffer is
   * also fed as an input (the in-place gradient accumulation relies on this).
   */
  async run(
    feeds: Record<string, Feed>,
    fetches?: readonly string[] | Record<string, ort.Tensor | null>,
  ): Promise<Record<string, ort.Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, value] of Object.entries(feeds)) ortFeeds[name] = value instanceof Tensor ? toOrt(value) : value;
    for (const name of this.inner.inputNames) {
      if (!(name in ortFeeds)) throw new SessionError(`Cannot run session "${this.name}": input "${name}" is missing`);
    }
    try {
      if (fetches === undefined) return await this.inner.run(ortFeeds);
      return await this.inner.run(ortFeeds, Array.isArray(fetches) ? [...fetches] : fetches as never);
    } catch (cause) {
      throw new SessionError(`Cannot run session "${this.name}": ${(cause as Error).message}`, { cause });
    }
  }

  /** Runs the model and returns Coop tensors (views of onnxruntime's output buffers). */
  async runTensors(
    feeds: Record<string, Feed>,
    fetches?: readonly string[] | Record<string, ort.Tensor | null>,
  ): Promise<Record<string, Tensor>> {
    const out = await this.run(feeds, fetches);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, fromOrt(v)]));
  }

  /** Frees the native session. */
  async release(): Promise<void> {
    await this.inner.release();
  }
}

/** Creates a session from ONNX model bytes. */
export async function createSession(
  model: Uint8Array,
  options: SessionOptions & { name?: string } = {},
): Promise<Session> {
  const name = options.name ?? "model";
  const provider = options.executionProvider ?? "cpu";
  const providers: ort.InferenceSession.ExecutionProviderConfig[] = provider === "cuda"
    ? [{ name: "cuda", deviceId: options.deviceId ?? 0 } as ort.InferenceSession.ExecutionProviderConfig, "cpu"]
    : ["cpu"];
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: options.optimization ?? "all",
    interOpNumThreads: options.interOpThreads ?? 1,
    executionMode: "sequential",
  };
  if (options.memArena !== undefined) sessionOptions.enableCpuMemArena = options.memArena;
  if (options.memPattern !== undefined) sessionOptions.enableMemPattern = options.memPattern;
  if (options.intraOpThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpThreads;
  if (options.spinWait === false) {
    sessionOptions.extra = { "session.intra_op.allow_spinning": "0", "session.inter_op.allow_spinning": "0" };
  }
  if (options.profilePrefix !== undefined) {
    sessionOptions.enableProfiling = true;
    sessionOptions.profileFilePrefix = options.profilePrefix;
  }
  try {
    return new Session(name, await ort.InferenceSession.create(model, sessionOptions));
  } catch (cause) {
    const hint = provider === "cuda" ? " (is the onnxruntime-node CUDA build installed?)" : "";
    throw new SessionError(`Cannot create session "${name}" on ${provider}${hint}: ${(cause as Error).message}`, {
      cause,
    });
  }
}
