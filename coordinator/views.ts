/**
 * Adapts the coordinator's records to the control API's views (`ApiDeps`): node capacity comes from the
 * scheduler, everything else from the records the coordinator keeps in KV.
 */
import { type ActorView, type ClusterSnapshot, type LogLine, type NodeView } from "./http/mod.ts";
import type { ActorRecord } from "../shared/mod.ts";
import type { ApiDeps } from "./api.ts";
import type { Coordinator } from "./coordinator.ts";
import type { PlacementGroupView } from "./scheduler/mod.ts";
import { toSchedulerResources } from "./requests.ts";

/** Options for {@link apiDeps}. */
export interface ApiDepsOptions {
  natsUrl?: string;
}

/** The `ApiDeps` the control API serves from a running coordinator. */
export function apiDeps(coordinator: Coordinator, options: ApiDepsOptions = {}): ApiDeps {
  return {
    snapshot: () => clusterSnapshot(coordinator, options),
    actor(id) {
      const found = coordinator.actor(id);
      return found === undefined ? undefined : actorView(found.actor);
    },
    async actorLogs(id, { limit }) {
      const found = coordinator.actor(id);
      const lines = found === undefined ? [] : await coordinator.logs(found.actor.id, limit);
      return lines satisfies LogLine[];
    },
  };
}

/** The whole cluster as the API and the status table show it. */
export function clusterSnapshot(coordinator: Coordinator, options: ApiDepsOptions = {}): ClusterSnapshot {
  const { nodes, actors, groups } = coordinator.snapshot();
  const usage = new Map(coordinator.usage().map((u) => [u.id, u]));
  const nodeViews = nodes.map((node): NodeView => {
    const used = usage.get(node.id);
    const total = { cpu: node.cpus, memoryMb: node.memoryMb, gpus: node.gpuIds, resources: node.custom };
    return {
      id: node.id,
      address: node.hostname,
      alive: node.state === "alive",
      labels: node.labels,
      total,
      free: used?.free ?? { cpu: 0, memoryMb: 0, gpus: [], resources: {} },
      actors: used?.actors ?? [],
      lastHeartbeatMs: node.lastHeartbeat,
    };
  });
  const pending: ClusterSnapshot["pending"] = actors.filter((a) => a.pendingReason && a.state !== "dead")
    .map((a) => ({ kind: "actor", id: a.id, reason: a.pendingReason! }));
  for (const group of groups) {
    if (group.state === "pending") {
      pending.push({ kind: "placementGroup", id: group.id, reason: group.pendingReason ?? "" });
    }
  }
  const placementGroups = groups.filter((g) => g.state !== "removed").map((g): PlacementGroupView => ({
    id: g.id,
    strategy: g.strategy,
    state: g.state === "created" ? "created" : "pending",
    bundles: g.bundles.map((b, i) => ({ request: toSchedulerResources(b), nodeId: g.nodes?.[i] || null, gpuIds: [] })),
    ...(g.pendingReason ? { reason: g.pendingReason } : {}),
  }));
  return {
    coordinator: {
      id: coordinator.subjects.cluster,
      startedAt: new Date(coordinator.startedAt).toISOString(),
      ...(options.natsUrl ? { natsUrl: options.natsUrl } : {}),
    },
    nodes: nodeViews,
    actors: actors.map(actorView),
    pending,
    placementGroups,
  };
}

/** One actor record as an API view. */
export function actorView(record: ActorRecord): ActorView {
  const view: ActorView = {
    id: record.id,
    className: record.className,
    nodeId: record.nodeId ?? null,
    // The API has no "stopping": the process still runs until its exit is seen.
    state: record.state === "stopping" ? "alive" : record.state,
    restarts: record.restarts,
    maxRestarts: record.options.maxRestarts,
    resources: toSchedulerResources(record.options.resources),
  };
  if (record.name) view.name = record.name;
  if (record.pendingReason) view.pendingReason = record.pendingReason;
  if (record.gpuIds?.length) view.gpuIds = record.gpuIds;
  if (record.options.placementGroup) view.placementGroup = record.options.placementGroup;
  if (record.deathReason) view.error = `${record.deathReason.name}: ${record.deathReason.message}`;
  return view;
}
