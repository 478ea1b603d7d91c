/**
 * Inference-side plumbing shared by generation and scoring: the current weights held as onnxruntime tensors (set
 * once, fed to every run without conversion) and one compiled session per static input shape.
 */
import * as ort from "onnxruntime-node";
import { CoopError } from "../../shared/mod.ts";
import type { Tensor } from "../../shared/mod.ts";
import { type Graph, toOnnx } from "../graph/mod.ts";
import type { DecoderConfig } from "../io/mod.ts";
import { createSession, type Feed, type Session, type SessionOptions, toOrt } from "../session/mod.ts";
import { checkWeights, parameterSpecs } from "./params.ts";

/** Options of {@link ModelRuntime}. */
export interface ModelRuntimeOptions {
  /** Passed to every session this runtime creates (execution provider, threads). */
  session?: SessionOptions;
  /** Name used in session error messages. */
  name?: string;
  /**
   * Dtype the weights are held in (default float32). "float16" halves their memory (a frozen reference or reward
   * model): every session casts each weight to float32 right before its first use, so compute stays float32.
   */
  weightDtype?: "float32" | "float16";
}

/** Raised when a model is used before it has weights, or with inputs that do not fit it. */
export class ModelInputError extends CoopError {
  override name = "ModelInputError";
}

/** Weights as ort tensors plus a cache of sessions keyed by the shape they were built for. */
export class ModelRuntime {
  readonly config: DecoderConfig;
  readonly name: string;
  readonly #sessionOptions: SessionOptions;
  readonly #weightDtype: "float32" | "float16";
  readonly #sessions = new Map<string, Promise<Session>>();
  #weights: Record<string, ort.Tensor> | null = null;

  constructor(config: DecoderConfig, options: ModelRuntimeOptions = {}) {
    this.config = config;
    this.name = options.name ?? "model";
    this.#sessionOptions = options.session ?? {};
    this.#weightDtype = options.weightDtype ?? "float32";
  }

  /** Replaces the weights (checked against the config; names must be HF parameter names). */
  setWeights(weights: ReadonlyMap<string, Tensor>): void {
    const checked = checkWeights(this.config, weights, { source: `given to "${this.name}"` });
    const half = this.#weightDtype === "float16";
    this.#weights = Object.fromEntries(
      [...checked].map(([name, t]) => [name, half ? float16Tensor(t.data as Float32Array, t.shape) : toOrt(t)]),
    );
  }

  /**
   * Uses `feeds` as the weights by reference, with no copy: ort tensors over buffers another owner updates in place
   * (`Trainer.paramFeeds()`), so every later run sees the owner's current values. This is how a learner generates
   * or scores with its live weights (colocated rollout and RM scoring) without a second copy of the model.
   */
  shareWeights(feeds: Readonly<Record<string, ort.Tensor>>): void {
    if (this.#weightDtype !== "float32") {
      throw new ModelInputError(
        `Cannot share weights with "${this.name}": it holds its weights as ${this.#weightDtype}`,
      );
    }
    for (const spec of parameterSpecs(this.config)) {
      const t = feeds[spec.name];
      if (t === undefined || t.type !== "float32" || t.dims.join() !== spec.shape.join()) {
        throw new ModelInputError(
          `Cannot share weights with "${this.name}": "${spec.name}" is ${
            t === undefined ? "missing" : `${t.type}[${t.dims}]`
          }, expected float32[${spec.shape}]`,
        );
      }
    }
    this.#weights = { ...feeds };
  }

  /** True once weights were set. */
  get hasWeights(): boolean {
    return this.#weights !== null;
  }

  /** The session for `key`, compiling `build()` the first time. */
  session(key: string, build: () => Graph): Promise<Session> {
    let session = this.#sessions.get(key);
    if (session === undefined) {
      const inputDtypes = this.#weightDtype === "float32"
        ? undefined
        : Object.fromEntries(parameterSpecs(this.config).map((spec) => [spec.name, this.#weightDtype]));
      session = createSession(toOnnx(build(), { inputDtypes }), {
        ...this.#sessionOptions,
        name: `${this.name}:${key}`,
      });
      this.#sessions.set(key, session);
      session.catch(() => this.#sessions.delete(key));
    }
    return session;
  }

  /** Weights plus `extra` feeds. */
  feeds(extra: Record<string, Feed>): Record<string, Feed> {
    if (this.#weights === null) {
      throw new ModelInputError(`Cannot run model "${this.name}": no weights were set (call setWeights first)`);
    }
    return { ...this.#weights, ...extra };
  }

  /** Number of compiled sessions (one per shape bucket used so far). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Frees every session. */
  async release(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const session of sessions) await (await session.catch(() => null))?.release();
  }
}

/** Options of a {@link BucketedRunner}. */
export interface LengthBucketOptions {
  /** Sequence lengths (and cache sizes) are rounded up to multiples of this (default 16). */
  lengthBucket?: number;
}

/** A model runtime plus the length bucket its batches are padded to: the common base of Generator and Scorer. */
export class BucketedRunner {
  readonly runtime: ModelRuntime;
  /**
   * Lengths are rounded up to multiples of this, so few static-shape sessions exist. Protected rather than #private:
   * the subclasses pad with it.
   */
  protected readonly bucket: number;

  constructor(runtime: ModelRuntime, options: LengthBucketOptions = {}) {
    this.runtime = runtime;
    this.bucket = options.lengthBucket ?? 16;
  }
}

/** Rounds `n` up to a multiple of `bucket` (sequence lengths are bucketed so few static-shape sessions exist). */
export function roundUp(n: number, bucket: number): number {
  return Math.max(bucket, Math.ceil(n / bucket) * bucket);
}

/** RoPE positions of a row: cumsum(mask) - 1, clamped at 0 (pads take 0), as the HF fixtures and generate use. */
export function positionsOf(mask: ArrayLike<number>): number[] {
  const out: number[] = [];
  let seen = 0;
  for (let i = 0; i < mask.length; i++) {
    seen += mask[i] ? 1 : 0;
    out.push(Math.max(seen - 1, 0));
  }
  return out;
}

/** Checks that every id is an integer in [0, vocabSize); names the row and value otherwise. */
export function checkTokenIds(rows: readonly (readonly number[])[], vocabSize: number, what: string): void {
  rows.forEach((row, r) => {
    for (const id of row) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new ModelInputError(
          `Invalid ${what}: row ${r} holds token id ${id}, outside the vocabulary of ${vocabSize}`,
        );
      }
    }
  });
}

/** Options of {@link checkRows}. */
export interface CheckRowsOptions {
  /** What the caller cannot do with bad rows, for the message: "generate", "score". */
  action: string;
  /** What a row is, for the message: "prompt", "sequence". */
  what: string;
  /** Shortest allowed row (at least 1). */
  minLength: number;
  vocabSize: number;
}

/** Checks a batch of unpadded token rows: at least one row, each at least `minLength` long, ids in the vocabulary. */
export function checkRows(rows: readonly (readonly number[])[], options: CheckRowsOptions): void {
  const { action, what, minLength } = options;
  if (rows.length === 0) throw new ModelInputError(`Cannot ${action}: no ${what}s given`);
  rows.forEach((row, i) => {
    if (row.length === 0) throw new ModelInputError(`Cannot ${action}: ${what} ${i} is empty`);
    if (row.length < minLength) {
      throw new ModelInputError(`Cannot ${action}: ${what} ${i} has ${row.length} tokens, needs at least ${minLength}`);
    }
  });
  checkTokenIds(rows, options.vocabSize, what);
}

/** Pads every row to `length` with `pad` on `side`; each mask row has 1 at real tokens and 0 at pads. */
export function padRows(
  rows: readonly (readonly number[])[],
  length: number,
  options: { pad: number; side: "left" | "right" },
): { ids: number[][]; masks: number[][] } {
  const fill = (row: readonly number[], value: number) => new Array<number>(length - row.length).fill(value);
  const join = (padding: number[], real: number[]) =>
    options.side === "left" ? [...padding, ...real] : [...real, ...padding];
  return {
    ids: rows.map((row) => join(fill(row, options.pad), [...row])),
    masks: rows.map((row) => join(fill(row, 0), row.map(() => 1))),
  };
}

/**
 * A float16 ort.Tensor over raw 16-bit words. onnxruntime-common rewraps float16 data as a Float16Array wherever
 * the runtime has one (Deno does), and onnxruntime-node's native binding cannot read a Float16Array (it sees 0
 * bytes), so the words are put back as the tensor's Uint16Array data.
 */
function float16Tensor(data: Float32Array, shape: readonly number[]): ort.Tensor {
  const words = new Uint16Array(new Float16Array(data).buffer);
  const t = new ort.Tensor("float16", words, [...shape]);
  (t as unknown as { cpuData: Uint16Array }).cpuData = words;
  return t;
}
