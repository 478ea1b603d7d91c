/** onnxruntime-node sessions from in-memory model bytes, and zero-copy Tensor <-> ort.Tensor conversion. */
export {
  createSession,
  type ExecutionProvider,
  type Feed,
  fromOrt,
  Session,
  SessionError,
  type SessionOptions,
  toOrt,
} from "./session.ts";
export { collectGarbage } from "./gc.ts";
