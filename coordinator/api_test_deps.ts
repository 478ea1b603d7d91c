/** API dependencies of an empty cluster, for tests that exercise routes without a coordinator behind them. */
import type { ApiDeps } from "./api.ts";

/** No nodes, no actors, no logs. */
export const EMPTY_API_DEPS: ApiDeps = {
  snapshot: () => ({
    coordinator: { id: "c", startedAt: new Date(0).toISOString() },
    nodes: [],
    actors: [],
    pending: [],
    placementGroups: [],
  }),
  actor: () => undefined,
  actorLogs: () => [],
};
