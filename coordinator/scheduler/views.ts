/**
 * The read-only views the scheduler hands out (API responses, `coop status`): copies built from its records, so a
 * caller can never mutate scheduler state through a view.
 */
import { copyRequest, usageOf } from "./fit.ts";
import { type GroupRecord, groupState, type NodeSlot } from "./groups.ts";
import type { ActorPlacement, NodeUsage, PlacedActor, PlacementGroupView } from "./types.ts";

/** Where one placed actor runs. */
export function placementView(actor: PlacedActor): ActorPlacement {
  const view: ActorPlacement = {
    actorId: actor.actorId,
    nodeId: actor.nodeId,
    gpuIds: actor.allocation.gpus.map(([id]) => id),
  };
  if (actor.group !== undefined) {
    view.placementGroup = actor.group.id;
    view.bundleIndex = actor.group.bundleIndex;
  }
  return view;
}

/** One node's capacity and use. */
export function nodeUsageView(node: NodeSlot): NodeUsage {
  return {
    id: node.spec.id,
    alive: node.spec.alive,
    labels: { ...node.spec.labels },
    total: usageOf(node.total),
    free: usageOf(node.free),
    actors: [...node.actors].sort(),
  };
}

/** One placement group's bundles, state and (while not created) why it waits. */
export function groupView(group: GroupRecord): PlacementGroupView {
  const view: PlacementGroupView = {
    id: group.id,
    strategy: group.strategy,
    state: groupState(group),
    bundles: group.bundles.map((b) => ({
      request: copyRequest(b.request),
      nodeId: b.nodeId,
      gpuIds: b.reserved?.gpus.map(([gpu]) => gpu) ?? [],
    })),
  };
  if (view.state !== "created" && group.reason !== undefined) view.reason = group.reason;
  return view;
}
