/**
 * Placement-group bundle assignment for the scheduler: a bounded depth-first search over trial pools that finds a
 * node for every unreserved bundle under the group's strategy, and the sentence that explains a failure. Pure
 * functions over the scheduler's node records; the `Scheduler` in `scheduler.ts` owns the state.
 */
import {
  allocate,
  type Candidate,
  canTake,
  clonePool,
  copyRequest,
  explainNoFit,
  giveBack,
  type NeedUnits,
  normalizeRequest,
  orderCandidates,
  type Pool,
  poolOf,
  sumNeeds,
} from "./fit.ts";
import { PlacementError } from "../../shared/mod.ts";
import type { Allocation, Demand, NodeSpec, PlacementGroupState, PlacementStrategy, PlaceOptions } from "./types.ts";

/** A registered node: its spec, total and free resources, and the actors on it. */
export interface NodeSlot {
  spec: Required<NodeSpec>;
  total: Pool;
  free: Pool;
  actors: Set<string>;
}

/** One bundle of a placement group and what it reserved. */
export interface BundleRecord {
  request: Demand;
  need: NeedUnits;
  nodeId: string | null;
  /** What the bundle reserved on its node. */
  reserved: Allocation | null;
  /** What is left of the reservation for actors. */
  pool: Pool | null;
  actors: Set<string>;
}

/** A placement group: its bundles in order. */
export interface GroupRecord {
  id: string;
  strategy: PlacementStrategy;
  seq: number;
  bundles: BundleRecord[];
  reason?: string;
}

// Bounds the backtracking search for bundle assignments, in node evaluations (each step scores every alive node),
// so a pathological group cannot stall the coordinator: retryPending runs on every node join and release. A group
// that a search this wide cannot place stays pending with its reason.
const SEARCH_BUDGET = 50_000;

/** The alive nodes as placement candidates. */
export function candidatesOf(nodes: ReadonlyMap<string, NodeSlot>): Candidate[] {
  return [...nodes.values()].filter((n) => n.spec.alive).map((n) => ({
    label: `node "${n.spec.id}"`,
    id: n.spec.id,
    total: n.total,
    free: n.free,
    labels: n.spec.labels,
    actorCount: n.actors.size,
  }));
}

/**
 * Finds nodes for a group's unreserved bundles by depth-first search over trial pools, so that a greedy early
 * choice (e.g. the first bundle taking the only big node) cannot make a satisfiable group look unsatisfiable.
 * PACK first tries the STRICT_PACK answer, then falls back to SPREAD-free best effort.
 */
export function assignBundles(group: GroupRecord, nodes: ReadonlyMap<string, NodeSlot>): Map<number, string> | null {
  const candidates = candidatesOf(nodes);
  if (!mayFit(group, candidates)) return null;
  const strategies: PlacementStrategy[] = group.strategy === "PACK" ? ["STRICT_PACK", "PACK"] : [group.strategy];
  const trialSize = candidates.length;
  for (const strategy of strategies) {
    // A short pass in preference order finds the best-balanced answer when one is near; only then a wide search
    // that treats identical bundles as interchangeable (it tries sets of nodes, not their orderings), which is
    // what makes exhausting the budget on an infeasible group affordable.
    const quick = search(group, strategy, nodes, {
      budget: (2 * group.bundles.length + 8) * trialSize,
      symmetric: false,
    });
    const found = quick ?? search(group, strategy, nodes, { budget: SEARCH_BUDGET, symmetric: true });
    if (found !== null) return found;
  }
  return null;
}

/** Cheap necessary conditions, so that a hopeless group fails fast instead of exhausting the search. */
function mayFit(group: GroupRecord, candidates: Candidate[]): boolean {
  const todo = group.bundles.filter((b) => b.nodeId === null);
  if (!todo.every((b) => candidates.some((c) => canTake(c, b.need)))) return false;
  if (group.strategy !== "STRICT_SPREAD") return true;
  const taken = new Set(group.bundles.map((b) => b.nodeId));
  const homes = candidates.filter((c) => !taken.has(c.id) && todo.some((b) => canTake(c, b.need)));
  return homes.length >= todo.length;
}

function search(
  group: GroupRecord,
  strategy: PlacementStrategy,
  nodes: ReadonlyMap<string, NodeSlot>,
  options: { budget: number; symmetric: boolean },
): Map<number, string> | null {
  const trial = new Map<string, Pool>();
  for (const node of nodes.values()) if (node.spec.alive) trial.set(node.spec.id, clonePool(node.free));
  const used = new Map<string, number>();
  for (const b of group.bundles) if (b.nodeId !== null) used.set(b.nodeId, (used.get(b.nodeId) ?? 0) + 1);
  // Hardest bundles first (GPUs, then CPUs, then memory): they have the fewest homes, so a failure shows early
  // and the easy bundles fill what is left instead of taking the only big node.
  const todo = group.bundles.map((b, i) => ({ b, i })).filter(({ b }) => b.nodeId === null)
    .sort((x, y) =>
      y.b.need.gpu - x.b.need.gpu || (y.b.need.quantities.cpu ?? 0) - (x.b.need.quantities.cpu ?? 0) ||
      (y.b.need.quantities.memoryMb ?? 0) - (x.b.need.quantities.memoryMb ?? 0) || x.i - y.i
    ).map(({ i }) => i);
  const keys = group.bundles.map((b) => JSON.stringify(b.need));
  const chosen = new Map<number, string>();
  let budget = options.budget;
  const step = (k: number): boolean => {
    if (k === todo.length) return true;
    budget -= trial.size;
    if (budget < 0) return false;
    const index = todo[k]!;
    const need = group.bundles[index]!.need;
    let order = bundleOrder(need, trial, used, strategy, nodes);
    const previous = k > 0 ? todo[k - 1]! : undefined;
    if (options.symmetric && previous !== undefined && keys[previous] === keys[index]) {
      // Identical bundles are interchangeable: only assignments whose node ids do not decrease are tried.
      const floor = chosen.get(previous)!;
      order = order.filter((id) => id >= floor);
    }
    for (const nodeId of order) {
      const pool = trial.get(nodeId)!;
      const allocation = allocate(pool, need);
      if (allocation === null) continue;
      chosen.set(index, nodeId);
      used.set(nodeId, (used.get(nodeId) ?? 0) + 1);
      if (step(k + 1)) return true;
      used.set(nodeId, used.get(nodeId)! - 1);
      if (used.get(nodeId) === 0) used.delete(nodeId);
      chosen.delete(index);
      giveBack(pool, allocation);
    }
    return false;
  };
  return step(0) ? chosen : null;
}

/** Candidate node ids for one bundle, best first, under a strategy's constraints. */
function bundleOrder(
  need: NeedUnits,
  trial: Map<string, Pool>,
  used: Map<string, number>,
  strategy: PlacementStrategy,
  nodes: ReadonlyMap<string, NodeSlot>,
): string[] {
  const candidates: Candidate[] = [];
  for (const [id, pool] of trial) {
    const node = nodes.get(id)!;
    const candidate = { label: id, id, total: node.total, free: pool, labels: node.spec.labels, actorCount: 0 };
    if (canTake(candidate, need)) candidates.push(candidate);
  }
  const ordered = orderCandidates(candidates, need).map((c) => c.id);
  const isUsed = (id: string) => used.has(id);
  switch (strategy) {
    case "STRICT_PACK":
      return used.size > 0 ? ordered.filter(isUsed) : ordered;
    case "STRICT_SPREAD":
      return ordered.filter((id) => !isUsed(id));
    case "PACK":
      return [...ordered.filter(isUsed), ...ordered.filter((id) => !isUsed(id))];
    case "SPREAD":
      return [
        ...ordered.filter((id) => !isUsed(id)),
        ...ordered.filter(isUsed).sort((a, b) => used.get(a)! - used.get(b)!),
      ];
  }
}

/** Why a group's unreserved bundles cannot be reserved right now. */
export function explainGroup(group: GroupRecord, candidates: Candidate[]): string {
  const prefix = `Placement group "${group.id}" (${group.strategy})`;
  const todo = group.bundles.map((b, i) => ({ b, i })).filter(({ b }) => b.nodeId === null);
  for (const { b, i } of todo) {
    if (!candidates.some((c) => canTake(c, b.need))) {
      return `${prefix}, bundle ${i}: ${explainNoFit(candidates, b.need, { noun: "node", canGrow: true })}`;
    }
  }
  if (group.strategy === "STRICT_PACK") {
    const sum = sumNeeds(group.bundles.map((b) => b.need));
    return `${prefix} needs all ${group.bundles.length} bundles on one node: ${
      explainNoFit(candidates, sum, { noun: "node", canGrow: true })
    }`;
  }
  if (group.strategy === "STRICT_SPREAD") {
    const fitting = candidates.filter((c) => todo.some(({ b }) => canTake(c, b.need))).length;
    return `${prefix} needs ${group.bundles.length} distinct nodes, one per bundle; only ${fitting} alive ${
      fitting === 1 ? "node fits" : "nodes fit"
    } a bundle; waiting for more nodes to join or resources to free up`;
  }
  return `${prefix}: not enough free resources across nodes for all ${todo.length} bundles at once; waiting for ` +
    "resources to free up or a fitting node to join";
}

/** Checks an actor's placement-group option against the existing groups; throws PlacementError naming it. */
export function checkGroupOption(
  actorId: string,
  options: PlaceOptions,
  groups: ReadonlyMap<string, GroupRecord>,
): void {
  if (options.placementGroup === undefined) {
    if (options.bundleIndex !== undefined) {
      throw new PlacementError(`Invalid placement for actor "${actorId}": bundleIndex needs placementGroup`);
    }
    return;
  }
  const group = groups.get(options.placementGroup);
  if (group === undefined) {
    throw new PlacementError(
      `Cannot place actor "${actorId}": placement group "${options.placementGroup}" does not exist`,
    );
  }
  const index = options.bundleIndex;
  if (index !== undefined && (!Number.isInteger(index) || index < 0 || index >= group.bundles.length)) {
    throw new PlacementError(
      `Cannot place actor "${actorId}": bundleIndex must be an integer in [0, ${group.bundles.length}), got ${index}`,
    );
  }
}

/** Bundle `index` of a reserved group as a placement candidate. */
export function bundleCandidate(group: GroupRecord, index: number, nodes: ReadonlyMap<string, NodeSlot>): Candidate {
  const bundle = group.bundles[index]!;
  const node = nodes.get(bundle.nodeId!)!;
  return {
    label: `bundle ${index}`,
    id: String(index),
    total: poolOf(bundle.reserved!),
    free: bundle.pool!,
    labels: node.spec.labels,
    actorCount: bundle.actors.size,
  };
}

/** Why an actor does not fit now, on any node or in its placement group. */
export function explainActor(
  need: NeedUnits,
  options: PlaceOptions,
  groups: ReadonlyMap<string, GroupRecord>,
  nodes: ReadonlyMap<string, NodeSlot>,
): string {
  if (options.placementGroup === undefined) {
    return explainNoFit(candidatesOf(nodes), need, { noun: "node", canGrow: true });
  }
  const group = groups.get(options.placementGroup)!;
  const indexes = options.bundleIndex === undefined ? group.bundles.map((_, i) => i) : [options.bundleIndex];
  const ready = indexes.filter((i) => group.bundles[i]!.pool !== null);
  if (ready.length === 0) {
    const what = options.bundleIndex === undefined
      ? "has no reserved bundle yet"
      : `bundle ${options.bundleIndex} is not reserved yet`;
    return `Placement group "${group.id}" ${what}: ${group.reason ?? "waiting"}`;
  }
  const candidates = ready.map((i) => bundleCandidate(group, i, nodes));
  return explainNoFit(candidates, need, { noun: `bundle of placement group "${group.id}"`, canGrow: false });
}

const STRATEGIES: readonly PlacementStrategy[] = ["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"];

/** A new, unreserved placement group; throws PlacementError naming what is wrong with the strategy or bundles. */
export function newGroupRecord(id: string, bundles: Demand[], strategy: PlacementStrategy, seq: number): GroupRecord {
  if (!STRATEGIES.includes(strategy)) {
    throw new PlacementError(
      `Invalid placement group "${id}": strategy must be one of ${STRATEGIES.join(", ")}, got ${String(strategy)}`,
    );
  }
  if (!Array.isArray(bundles) || bundles.length === 0) {
    throw new PlacementError(`Invalid placement group "${id}": bundles must be a non-empty list`);
  }
  const records = bundles.map((request, i) => ({
    request: copyRequest(request),
    need: normalizeRequest(`Invalid placement group "${id}", bundle ${i}`, request),
    nodeId: null,
    reserved: null,
    pool: null,
    actors: new Set<string>(),
  }));
  return { id, strategy, seq, bundles: records };
}

/** Whether a group holds all its bundles, some (it lost a node after creation), or none yet. */
export function groupState(group: GroupRecord): PlacementGroupState {
  const reserved = group.bundles.filter((b) => b.nodeId !== null).length;
  if (reserved === group.bundles.length) return "created";
  // A group that holds some bundles lost a node after being created (creation is all-or-nothing).
  return reserved > 0 ? "rescheduling" : "pending";
}
