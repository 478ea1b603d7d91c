/** Graph builder: symbolic tensors, primitive ONNX ops, compositions and ONNX serialization. */
export {
  type Attr,
  fmtShape,
  Graph,
  GraphBuildError,
  GraphShapeError,
  isFloat,
  type Node,
  ONNX_DTYPE,
  scalarTensor,
  type Shape,
  Sym,
  type SymKind,
  tensorOf,
} from "./graph.ts";
export * as op from "./ops.ts";
export {
  broadcastShapes,
  type CumSumOptions,
  normAxis,
  type Operand,
  type ReduceOptions,
  type ScatterReduction,
  type SliceOptions,
} from "./ops.ts";
export * as nn from "./nn.ts";
export { liveNodes, OPSET, toOnnx, type ToOnnxOptions } from "./onnx.ts";
