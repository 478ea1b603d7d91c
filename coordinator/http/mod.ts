/**
 * What every Coop HTTP router shares, below both the cluster API and the run routers: the error contract and its
 * status mapping, request validation, bearer auth, the guard and body limits, the shared schema pieces, and the
 * cluster views the API serves.
 */
export { apiTokenFromEnv, bearerAuth } from "./auth.ts";
export type { BearerAuthOptions } from "./auth.ts";
export { apiBindHost, apiGuard, isLoopback } from "./api_guard.ts";
export { bodyLimits, DEFAULT_MAX_BODY_BYTES } from "./body_limit.ts";
export type { BodyLimitOptions } from "./body_limit.ts";
export { ConflictError } from "./errors.ts";
export { errorBody, errorResponse, openApiRouter, parseQuery, validationHook } from "./responses.ts";
export type { ApiErrorBody } from "./responses.ts";
export { ErrorBody, errors, IdParam, json } from "./schemas.ts";
export { ACTOR_STATES } from "./api_types.ts";
export type {
  ActorState,
  ActorView,
  ClusterSnapshot,
  CoordinatorInfo,
  LogLine,
  NodeResources,
  NodeView,
} from "./api_types.ts";
