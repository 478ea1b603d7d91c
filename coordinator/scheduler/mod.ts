/**
 * The scheduler: pure placement of actors and placement groups on nodes (`scheduler.ts`), its fitting and
 * explanation helpers (`fit.ts`, `groups.ts`), public types (`types.ts`) and its per-record persisted form
 * (`persist.ts`).
 */
export { Scheduler } from "./scheduler.ts";
export { assembleScheduler, type SchedulerEntries } from "./persist.ts";
export type {
  ActorEntry,
  ActorPlacement,
  Demand,
  NodeSpec,
  NodeUsage,
  PendingView,
  PlacementGroupState,
  PlacementGroupView,
  PlacementStrategy,
  PlaceOptions,
  PlaceResult,
  RetryResult,
  SchedulerChanges,
  SchedulerJson,
} from "./types.ts";
