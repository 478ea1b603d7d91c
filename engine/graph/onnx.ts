/**
 * A write-only protobuf encoder for the handful of ONNX messages a graph needs (ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto). Field numbers follow onnx/onnx.proto. Large payloads (weights) are
 * kept as references to their bytes until `finish`, which copies each of them exactly once into the model buffer.
 */
import type { DType, Tensor } from "../../shared/mod.ts";
import { type Attr, Graph, GraphBuildError, type Node, ONNX_DTYPE, type Sym } from "./graph.ts";

/** The default-domain opset the builder emits. */
export const OPSET = 18;
/** IR version 8 covers opsets up to 18. */
const IR_VERSION = 8;
const TEXT = new TextEncoder();

class Writer {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  #scratch: number[] = [];

  #flushScratch(): void {
    if (this.#scratch.length === 0) return;
    const bytes = Uint8Array.from(this.#scratch);
    this.#scratch = [];
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    if (typeof value === "number" && value >= 0 && value < 2 ** 31) {
      let n = value;
      while (n >= 0x80) {
        this.#scratch.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      this.#scratch.push(n);
      return;
    }
    while (v >= 0x80n) {
      this.#scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.#scratch.push(Number(v));
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): void {
    this.tag(field, 0);
    this.varint(value);
  }

  float(field: number, value: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.#scratch.push(...b);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.#flushScratch();
    if (data.length > 0) {
      this.chunks.push(data);
      this.length += data.length;
    }
  }

  string(field: number, value: string): void {
    this.bytes(field, TEXT.encode(value));
  }

  message(field: number, child: Writer): void {
    child.#flushScratch();
    this.tag(field, 2);
    this.varint(child.length);
    this.#flushScratch();
    for (const c of child.chunks) this.chunks.push(c);
    this.length += child.length;
  }

  finish(): Uint8Array {
    this.#flushScratch();
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

function tensorProto(name: string, t: Tensor): Writer {
  if (ONNX_DTYPE[t.dtype] !== undefined) {
    const w = new Writer();
    for (const d of t.shape) w.int(1, d);
    w.int(2, ONNX_DTYPE[t.dtype]);
    w.string(8, name);
    w.bytes(9, t.bytes());
    return w;
  }
  throw new GraphBuildError(`Cannot serialize constant "${name}": dtype ${t.dtype} is not supported`);
}

function attrProto(name: string, attr: Attr): Writer {
  const w = new Writer();
  w.string(1, name);
  if ("int" in attr) {
    w.int(20, 2);
    w.int(3, attr.int);
  } else if ("float" in attr) {
    w.int(20, 1);
    w.float(2, attr.float);
  } else if ("ints" in attr) {
    w.int(20, 7);
    for (const v of attr.ints) w.int(8, v);
  } else if ("floats" in attr) {
    w.int(20, 6);
    for (const v of attr.floats) w.float(7, v);
  } else if ("string" in attr) {
    w.int(20, 3);
    w.string(4, attr.string);
  } else {
    w.int(20, 4);
    w.message(5, tensorProto("", attr.tensor));
  }
  return w;
}

function valueInfo(name: string, sym: Sym, dtype: DType = sym.dtype): Writer {
  const shape = new Writer();
  for (const d of sym.shape) {
    const dim = new Writer();
    dim.int(1, d);
    shape.message(1, dim);
  }
  const tensorType = new Writer();
  tensorType.int(1, ONNX_DTYPE[dtype]);
  tensorType.message(2, shape);
  const type = new Writer();
  type.message(1, tensorType);
  const w = new Writer();
  w.string(1, name);
  w.message(2, type);
  return w;
}

/** Options of `toOnnx`. */
export interface ToOnnxOptions {
  /** Outputs to emit (default: every output declared with `graph.output`). */
  outputs?: readonly string[];
  /** Opset imports of other domains, e.g. `{ "com.microsoft": 1 }`. */
  extraOpsets?: Record<string, number>;
  /**
   * Graph inputs fed in another dtype than the graph computes in (e.g. float16 weights of a float32 graph): each is
   * declared with this dtype and cast back right before its first use, so with onnxruntime's arena off only the
   * weights in use exist in float32 at any moment.
   */
  inputDtypes?: Record<string, DType>;
}

/** The nodes needed to compute `roots`, in topological order. */
export function liveNodes(graph: Graph, roots: readonly Sym[]): Node[] {
  const live = new Set<Node>();
  const stack = roots.map((r) => r.producer).filter((n): n is Node => n !== undefined);
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (live.has(node)) continue;
    live.add(node);
    for (const input of node.inputs) if (input.producer) stack.push(input.producer);
  }
  return graph.nodes.filter((n) => live.has(n));
}

/**
 * Serializes a graph to ONNX ModelProto bytes: only nodes that reach an output are written; every declared input is
 * kept (so callers can feed a fixed set of names); constants that are used become initializers.
 */
export function toOnnx(graph: Graph, options: ToOnnxOptions = {}): Uint8Array {
  const names = options.outputs ?? [...graph.outputs.keys()];
  if (names.length === 0) throw new GraphBuildError(`Cannot serialize graph "${graph.name}": it has no outputs`);
  const outs = names.map((name) => {
    const sym = graph.outputs.get(name);
    if (sym === undefined) throw new GraphBuildError(`Cannot serialize output "${name}": no such output`);
    return [name, sym] as const;
  });
  const nodes = liveNodes(graph, outs.map(([, s]) => s));
  // Rename a node's output to the graph output's name instead of adding an Identity copy; values that are inputs,
  // constants or already-renamed get an Identity.
  const rename = new Map<Sym, string>();
  const identities: [Sym, string][] = [];
  for (const [name, sym] of outs) {
    if (sym.kind === "node" && !rename.has(sym)) rename.set(sym, name);
    else identities.push([sym, name]);
  }
  const nameOf = (s: Sym) => rename.get(s) ?? s.name;

  const g = new Writer();
  const casts = new Map<Sym, DType>();
  for (const input of graph.inputs) {
    const dtype = options.inputDtypes?.[input.name];
    if (dtype !== undefined && dtype !== input.dtype) casts.set(input, dtype);
  }
  for (const node of nodes) {
    for (const input of node.inputs) {
      if (!casts.has(input) || rename.has(input)) continue;
      const c = new Writer();
      rename.set(input, `${input.name}::${input.dtype}`);
      c.string(1, input.name);
      c.string(2, nameOf(input));
      c.string(3, `cast_${input.name}`);
      c.string(4, "Cast");
      c.message(5, attrProto("to", { int: ONNX_DTYPE[input.dtype] }));
      g.message(1, c);
    }
    g.message(1, nodeProto(node, nameOf));
  }
  for (const [sym, name] of identities) {
    const n = new Writer();
    n.string(1, nameOf(sym));
    n.string(2, name);
    n.string(3, `out_${name}`);
    n.string(4, "Identity");
    g.message(1, n);
  }
  g.string(2, graph.name);
  const used = new Set<string>();
  for (const node of nodes) for (const input of node.inputs) used.add(input.name);
  for (const [sym] of identities) used.add(sym.name);
  for (const [name, value] of graph.constants) if (used.has(name)) g.message(5, tensorProto(name, value));
  for (const input of graph.inputs) g.message(11, valueInfo(input.name, input, casts.get(input)));
  for (const [name, sym] of outs) g.message(12, valueInfo(name, sym));

  return modelProto(graph, g, options.extraOpsets ?? {});
}

/** NodeProto of one node, its values named by `nameOf` (graph outputs take the output's name). */
function nodeProto(node: Node, nameOf: (s: Sym) => string): Writer {
  const n = new Writer();
  for (const input of node.inputs) n.string(1, nameOf(input));
  for (const output of node.outputs) n.string(2, nameOf(output));
  n.string(3, `n${node.index}`);
  n.string(4, node.op);
  for (const [key, attr] of Object.entries(node.attrs)) n.message(5, attrProto(key, attr));
  if (node.domain !== "") n.string(7, node.domain);
  return n;
}

/** ModelProto around GraphProto `g`: IR version, producer, the default opset and `extraOpsets`. */
function modelProto(graph: Graph, g: Writer, extraOpsets: Readonly<Record<string, number>>): Uint8Array {
  const m = new Writer();
  m.int(1, IR_VERSION);
  m.string(2, "coop");
  m.message(7, g);
  const opset = new Writer();
  opset.string(1, "");
  opset.int(2, OPSET);
  m.message(8, opset);
  for (const [domain, version] of Object.entries(extraOpsets)) {
    const o = new Writer();
    o.string(1, domain);
    o.int(2, version);
    m.message(8, o);
  }
  // protobuf (and so onnxruntime's parser) caps a message at 2 GiB; weights past that must be fed as inputs.
  if (m.length + 64 > 2 ** 31 - 1) {
    throw new GraphBuildError(
      `Cannot serialize graph "${graph.name}": the model would be ${m.length} bytes, over protobuf's 2 GiB limit; ` +
        "declare large weights with graph.input and feed them instead of graph.constant",
    );
  }
  return m.finish();
}
