/**
 * The graph builder's core: symbolic tensors (`Sym`) with a dtype and a static shape, nodes that map one-to-one onto
 * ONNX ops, and a `Graph` that owns them. Nodes are appended in creation order, which is therefore a topological
 * order; the backward walker and the serializer both rely on that.
 */
import { CoopError } from "../../shared/mod.ts";
import { type DType, shapeSize, Tensor } from "../../shared/mod.ts";

/** A static shape: every dim is a known non-negative integer (dynamic lengths are handled by shape buckets). */
export type Shape = readonly number[];

/** An ONNX attribute value, tagged with its ONNX type. */
export type Attr =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { string: string }
  | { tensor: Tensor };

/** One ONNX node: op type, inputs, attributes and the symbolic tensors it produces. */
export interface Node {
  readonly op: string;
  readonly inputs: readonly Sym[];
  readonly attrs: Readonly<Record<string, Attr>>;
  readonly outputs: readonly Sym[];
  /** Creation index; ascending order is a topological order. */
  readonly index: number;
  /** ONNX domain; "" is the default domain. */
  readonly domain: string;
}

/** Where a symbolic tensor comes from. */
export type SymKind = "input" | "constant" | "node";

/** Raised when an op gets operands of incompatible shapes or dtypes; the message names the op and the shapes. */
export class GraphShapeError extends CoopError {
  override name = "GraphShapeError";
}

/** Raised for unsupported ops, bad attributes, mixing graphs or invalid names. */
export class GraphBuildError extends CoopError {
  override name = "GraphBuildError";
}

/** A symbolic tensor: a value in a graph with a dtype and a static shape. */
export class Sym {
  readonly graph: Graph;
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly kind: SymKind;
  /** The node producing this value (undefined for inputs and constants). */
  readonly producer: Node | undefined;

  constructor(graph: Graph, name: string, dtype: DType, shape: Shape, kind: SymKind, producer?: Node) {
    this.graph = graph;
    this.name = name;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.kind = kind;
    this.producer = producer;
  }

  /** Number of dims. */
  get rank(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return shapeSize(this.shape);
  }

  /** The constant's value when this is a constant, else undefined. */
  get value(): Tensor | undefined {
    return this.kind === "constant" ? this.graph.constants.get(this.name) : undefined;
  }

  /** For error messages: `t12 float32[2, 3]`. */
  toString(): string {
    return `${this.name} ${this.dtype}[${this.shape.join(", ")}]`;
  }
}

/** Formats a shape as `[2, 3]` for error messages. */
export function fmtShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Readonly<Record<DType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

/** Float dtypes: the only ones gradients flow through. */
export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64" || dtype === "float16" || dtype === "bfloat16";
}

/** A graph under construction. */
export class Graph {
  readonly name: string;
  readonly nodes: Node[] = [];
  readonly inputs: Sym[] = [];
  readonly constants = new Map<string, Tensor>();
  readonly outputs = new Map<string, Sym>();
  /** Syms whose gradient is cut by `stopGradient` (the Identity nodes producing them). */
  readonly stopped = new Set<Sym>();
  #names = new Set<string>();
  #counter = 0;
  #scalars = new Map<string, Sym>();

  constructor(name = "coop") {
    this.name = name;
  }

  /** Declares a graph input (fed at run time). */
  input(name: string, dtype: DType, shape: Shape): Sym {
    this.#claim(name);
    shapeSize(shape);
    const sym = new Sym(this, name, dtype, shape, "input");
    this.inputs.push(sym);
    return sym;
  }

  /** Adds a constant (an ONNX initializer). Large weights can be constants too; they are serialized without copies. */
  constant(value: Tensor, name?: string): Sym {
    const id = name ?? this.#fresh("c");
    if (name !== undefined) this.#claim(name);
    this.constants.set(id, value);
    return new Sym(this, id, value.dtype, value.shape, "constant");
  }

  /** A cached scalar constant of `dtype` (shape []). */
  scalar(value: number, dtype: DType = "float32"): Sym {
    const key = `${dtype}:${Object.is(value, -0) ? "-0" : value}`;
    let sym = this.#scalars.get(key);
    if (sym === undefined) {
      sym = this.constant(scalarTensor(value, dtype));
      this.#scalars.set(key, sym);
    }
    return sym;
  }

  /** Marks `sym` as an output named `name`. */
  output(name: string, sym: Sym): void {
    this.#own(sym, "output");
    if (this.outputs.has(name)) throw new GraphBuildError(`Cannot add output "${name}": the name is already an output`);
    if (this.inputs.some((input) => input.name === name)) {
      throw new GraphBuildError(`Cannot add output "${name}": the name is already an input`);
    }
    this.outputs.set(name, sym);
  }

  /** Low-level: appends a node with explicit output dtypes and shapes. Ops in `ops.ts` call this after inference. */
  node(
    op: string,
    inputs: readonly Sym[],
    attrs: Record<string, Attr>,
    outputs: readonly { dtype: DType; shape: Shape }[],
    domain = "",
  ): Sym[] {
    for (const input of inputs) this.#own(input, op);
    const syms: Sym[] = [];
    const node: Node = { op, inputs: [...inputs], attrs, outputs: syms, index: this.nodes.length, domain };
    for (const out of outputs) {
      syms.push(new Sym(this, this.#fresh("t"), out.dtype, out.shape, "node", node));
    }
    this.nodes.push(node);
    return syms;
  }

  /** Serialization helper: a fresh unique value name with `prefix`. */
  freshName(prefix: string): string {
    const name = this.#fresh(prefix);
    this.#names.add(name);
    return name;
  }

  #fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}${this.#counter++}`; while (this.#names.has(name));
    this.#names.add(name);
    return name;
  }

  #claim(name: string): void {
    if (name.length === 0) throw new GraphBuildError("Cannot name a graph value with an empty string");
    if (this.#names.has(name)) throw new GraphBuildError(`Cannot declare "${name}": the name is already used`);
    this.#names.add(name);
  }

  #own(sym: Sym, what: string): void {
    if (sym.graph !== this) {
      throw new GraphBuildError(`Cannot use ${sym} in "${what}" of graph "${this.name}": it belongs to another graph`);
    }
  }
}

/** A rank-0 tensor holding `value`. */
export function scalarTensor(value: number, dtype: DType): Tensor {
  return tensorOf(dtype, [], [value]);
}

/** Builds a tensor of any dtype from plain numbers (bigint conversion for int64, 0/1 for bool). */
export function tensorOf(dtype: DType, shape: Shape, values: ArrayLike<number>): Tensor {
  const size = shapeSize(shape);
  if (values.length !== size) {
    throw new GraphShapeError(`Got ${values.length} values for shape ${fmtShape(shape)} (${size} elements)`);
  }
  switch (dtype) {
    case "float32":
      return mk(dtype, shape, Float32Array.from(values));
    case "float64":
      return mk(dtype, shape, Float64Array.from(values));
    case "int32":
      return mk(dtype, shape, Int32Array.from(values));
    case "int64":
      return mk(dtype, shape, BigInt64Array.from(Array.from(values, (v) => BigInt(v))));
    case "uint8":
    case "bool":
      return mk(dtype, shape, Uint8Array.from(values));
    case "int8":
      return mk(dtype, shape, Int8Array.from(values));
    default:
      throw new GraphBuildError(`Cannot build a ${dtype} constant from numbers: use a Tensor`);
  }
}

function mk(dtype: DType, shape: Shape, data: Tensor["data"]): Tensor {
  return new Tensor(dtype, shape, data as never);
}
