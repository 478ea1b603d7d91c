/**
 * What every Coop process links: the tensor type, the msgpack wire codec, typed errors, the transport interface and
 * its NATS adapter, subjects and the records the cluster reports, logging and a seeded PRNG.
 */
export { allocate, DTYPE_BYTES, shapeSize, Tensor, tensor, TensorShapeError, viewAs } from "./tensor.ts";
export type { DType, DTypeArrays, TensorData } from "./tensor.ts";
export type {
  BlobInfo,
  BlobStore,
  ConnectionEvent,
  KvStore,
  RequestOptions,
  SubscribeOptions,
  Transport,
  TransportMessage,
  TransportSubscription,
} from "./transport.ts";
export {
  ActorCallError,
  ActorDiedError,
  BackpressureError,
  BadArgumentsError,
  BlobIntegrityError,
  CallTimeoutError,
  CancelledError,
  ConfigError,
  ConnectionLostError,
  CoopError,
  DecodeError,
  errorFromWire,
  errorToWire,
  MessageTooLargeError,
  NoRespondersError,
  NotFoundError,
  PlacementError,
  UnknownActorClassError,
  UnknownMethodError,
} from "./errors.ts";
export type { ActorCallErrorOptions, ConfigErrorOptions, ConfigIssue, WireError } from "./errors.ts";
export { BIGINT_EXT, BYTES_EXT, decode, encode, MAX_TENSOR_DIMS, TENSOR_EXT } from "./codec.ts";
export { connectNats, DEFAULT_MAX_MESSAGE_BYTES, NatsConnectError } from "./nats_transport.ts";
export type { NatsTransport } from "./nats_transport.ts";
export { DEFAULT_NATS_URL, NATS_AUTH_ENV_VARS, NATS_ENV_VARS, natsOptionsFromEnv } from "./nats_options.ts";
export type { NatsConnectOptions, NatsTlsOptions } from "./nats_options.ts";
export { BLOB_VERSION_KEY } from "./nats_stores.ts";
export { listenTo, serveRequests } from "./serving.ts";
export type { ServeOptions } from "./serving.ts";
export { checkToken, subjects } from "./subjects.ts";
export type { Subjects } from "./subjects.ts";
export type {
  ActorOptions,
  ActorRecord,
  ActorState,
  LogLine,
  NodeRecord,
  PlacementGroupRecord,
  PlacementStrategy,
  ResourceRequest,
} from "./protocol.ts";
export { AsyncQueue } from "./async_queue.ts";
export { terminate } from "./process.ts";
export type { TerminateOptions } from "./process.ts";
export { createLogger } from "./log.ts";
export { cpuModel } from "./machine.ts";
export type { LogFields, LogFormat, Logger, LoggerOptions, LogLevel } from "./log.ts";
export { mixSeed, Rng } from "./random.ts";
export { agentOrderSchema } from "./protocol.ts";
export type { HeartbeatReply } from "./protocol.ts";
export type { LifecycleEvent } from "./protocol.ts";
export type { NodeInfo } from "./protocol.ts";
export { parseMessage } from "./protocol.ts";
export { readReply } from "./protocol.ts";
export type { RegisterReply } from "./protocol.ts";
export { actorOptionsSchema } from "./protocol.ts";
export type { AdminRequest } from "./protocol.ts";
export type { CoordinatorRequest } from "./protocol.ts";
export { lifecycleEventSchema } from "./protocol.ts";
export { encodeCall } from "./protocol.ts";
export type { ActorReport } from "./protocol.ts";
export { decodeCall } from "./protocol.ts";
export { errorReply } from "./protocol.ts";
export { okReply } from "./protocol.ts";
export { PING_METHOD } from "./protocol.ts";
export { rootedPath } from "./roots.ts";
export { KvConflictError } from "./transport.ts";
export { actorReportSchema } from "./protocol.ts";
export { adminRequestSchema } from "./protocol.ts";
export { checkSender } from "./protocol.ts";
export { coordinatorRequestSchema } from "./protocol.ts";
export { lookupRequestSchema } from "./protocol.ts";
export { heartbeatSchema } from "./protocol.ts";
export type { LogBatch } from "./protocol.ts";
export { logBatchSchema } from "./protocol.ts";
export { nodeRequestSchema } from "./protocol.ts";
export { subjectToken } from "./subjects.ts";
export type { AgentOrder } from "./protocol.ts";
export type { KvEntry } from "./transport.ts";
export type { MessageStream } from "./transport.ts";
export { checkPath } from "./roots.ts";
export type { CheckPathOptions } from "./roots.ts";
export type { PathRoots } from "./roots.ts";
export type { PathShape } from "./roots.ts";
export type { RootKind } from "./roots.ts";
export { PathError } from "./roots.ts";
export { rootsFromEnv } from "./roots.ts";
export type { Heartbeat } from "./protocol.ts";
export { formatTable } from "./text_table.ts";
export type { Align, TableOptions } from "./text_table.ts";
export { isConnectionLost, isTransient, retryTransient } from "./connection_loss.ts";
export type { RetryTransientOptions } from "./connection_loss.ts";
export type { CallFrame } from "./protocol.ts";
