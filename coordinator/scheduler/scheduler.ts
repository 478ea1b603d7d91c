/**
 * The coordinator's scheduler: which node hosts which actor, following Ray's semantics. Nodes offer CPUs
 * (fractional), GPU devices, memory, custom resources and labels; actors ask for amounts and labels; placement
 * groups reserve bundles atomically with PACK / SPREAD / STRICT_PACK / STRICT_SPREAD; what cannot be placed waits in
 * a FIFO queue with a stated reason. Pure and deterministic (no I/O, no clocks): the coordinator calls it, persists
 * `toJSON()` in KV and rebuilds it with `Scheduler.fromJSON()` after a restart.
 */

import { ConfigError, NotFoundError, PlacementError } from "../../shared/mod.ts";
import {
  allocate,
  bestCandidate,
  type Candidate,
  canTake,
  clonePool,
  copyRequest,
  giveBack,
  type NeedUnits,
  nodePool,
  normalizeNode,
  normalizeRequest,
  poolOf,
  takeAllocation,
  toUnits,
} from "./fit.ts";
import { actorEntry, groupJson, groupRecordOf, parseSchedulerJson, pendingJson, placedJson } from "./persist.ts";
import { groupView, nodeUsageView, placementView } from "./views.ts";
import {
  type ActorPlacement,
  type Allocation,
  type Demand,
  type NodeSpec,
  type NodeUsage,
  type PendingActor,
  type PendingView,
  type PlacedActor,
  type PlacementGroupView,
  type PlacementStrategy,
  type PlaceOptions,
  type PlaceResult,
  type RetryResult,
  type SchedulerChanges,
  type SchedulerJson,
} from "./types.ts";
import {
  assignBundles,
  bundleCandidate,
  candidatesOf,
  checkGroupOption,
  explainActor,
  explainGroup,
  type GroupRecord,
  groupState,
  newGroupRecord,
  type NodeSlot,
} from "./groups.ts";

/** Places actors and placement groups on nodes. See the module comment for semantics. */
export class Scheduler {
  #nodes = new Map<string, NodeSlot>();
  #actors = new Map<string, PlacedActor>();
  #groups = new Map<string, GroupRecord>();
  #pending = new Map<string, PendingActor>();
  #seq = 0;
  // Records changed since the last takeChanges(): the coordinator persists one KV key per record, not the whole state.
  #dirty = { nodes: new Set<string>(), groups: new Set<string>(), actors: new Set<string>() };

  /** Registers a node. Call {@link retryPending} afterwards to place waiting work. */
  addNode(spec: NodeSpec): void {
    const normalized = normalizeNode(spec);
    if (this.#nodes.has(normalized.id)) {
      throw new PlacementError(`Cannot add node "${normalized.id}": it is already registered; use updateNode`);
    }
    const total = nodePool(normalized);
    this.#nodes.set(normalized.id, { spec: normalized, total, free: clonePool(total), actors: new Set() });
    this.#dirty.nodes.add(normalized.id);
  }

  /** Changes a node's capacity, labels or liveness. Shrinking below current use overcommits until work leaves. */
  updateNode(id: string, patch: Partial<Omit<NodeSpec, "id">>): void {
    const node = this.#node(id);
    node.spec = normalizeNode({ ...node.spec, ...patch, id });
    node.total = nodePool(node.spec);
    this.#recomputeFree(node);
    this.#dirty.nodes.add(id);
  }

  /**
   * Removes a node. Its actors are released and their ids returned so the caller can restart them elsewhere;
   * bundles reserved on it are re-queued (their group goes to "rescheduling"), as Ray does on node death.
   */
  removeNode(id: string): string[] {
    const node = this.#node(id);
    const affected = [...node.actors].sort();
    for (const actorId of affected) this.release(actorId);
    for (const group of this.#groups.values()) {
      for (const bundle of group.bundles) {
        if (bundle.nodeId !== id) continue;
        this.#dirty.groups.add(group.id);
        bundle.nodeId = null;
        bundle.reserved = null;
        bundle.pool = null;
      }
    }
    this.#nodes.delete(id);
    this.#dirty.nodes.add(id);
    for (const group of this.#groups.values()) {
      if (groupState(group) !== "created") group.reason = explainGroup(group, this.#candidates());
    }
    return affected;
  }

  /** Tries to place an actor now. On failure nothing changes; use {@link enqueue} to wait. */
  place(actorId: string, request: Demand, options: PlaceOptions = {}): PlaceResult {
    if (this.#actors.has(actorId)) {
      throw new PlacementError(`Cannot place actor "${actorId}": it is already placed; release it first`);
    }
    const need = normalizeRequest(`Invalid resource request for actor "${actorId}"`, request);
    const result = this.#tryPlace(actorId, request, need, options);
    // An actor placed directly no longer waits, even if it was queued (e.g. the caller retried by hand).
    if (result.ok) this.#pending.delete(actorId);
    return result;
  }

  /** Queues an actor behind earlier waiting work; {@link retryPending} places it when it fits. */
  enqueue(actorId: string, request: Demand, options: PlaceOptions = {}): void {
    if (this.#actors.has(actorId) || this.#pending.has(actorId)) {
      throw new PlacementError(`Cannot enqueue actor "${actorId}": it is already placed or pending`);
    }
    const need = normalizeRequest(`Invalid resource request for actor "${actorId}"`, request);
    checkGroupOption(actorId, options, this.#groups);
    const reason = explainActor(need, options, this.#groups, this.#nodes);
    this.#dirty.actors.add(actorId);
    this.#pending.set(actorId, {
      actorId,
      request: copyRequest(request),
      options: { ...options },
      seq: this.#seq++,
      reason,
    });
  }

  /** Places the actor now when it fits, otherwise queues it (keeping its spot if queued); returns the attempt. */
  placeOrEnqueue(actorId: string, request: Demand, options: PlaceOptions = {}): PlaceResult {
    const result = this.place(actorId, request, options);
    if (result.ok) return result;
    const waiting = this.#pending.get(actorId);
    if (waiting === undefined) {
      this.enqueue(actorId, request, options);
    } else {
      // Already queued: keep its place in line, take the new request and reason.
      Object.assign(waiting, { request: copyRequest(request), options: { ...options }, reason: result.reason });
      this.#dirty.actors.add(actorId);
    }
    return result;
  }

  /**
   * Records an actor that already runs on `nodeId` with `gpuIds` (reported by its agent after the scheduler's state
   * was lost). Its request is taken from that node even past capacity: the process holds the resources anyway.
   */
  adopt(actorId: string, request: Demand, nodeId: string, gpuIds: number[]): void {
    if (this.#actors.has(actorId)) throw new PlacementError(`Cannot adopt actor "${actorId}": it is already placed`);
    const node = this.#node(nodeId);
    const need = normalizeRequest(`Invalid resource request for actor "${actorId}"`, request);
    const perDevice = Math.min(need.gpu, toUnits(1));
    const allocation: Allocation = {
      quantities: Object.fromEntries(Object.entries(need.quantities).filter(([, units]) => units > 0)),
      gpus: gpuIds.map((id) => [id, perDevice]),
    };
    this.#pending.delete(actorId);
    takeAllocation(node.free, allocation);
    this.#actors.set(actorId, { actorId, request: copyRequest(request), nodeId, allocation });
    node.actors.add(actorId);
    this.#dirty.actors.add(actorId);
  }

  /** Frees an actor's resources (or drops it from the queue). Returns false when it was unknown. */
  release(actorId: string): boolean {
    if (this.#pending.delete(actorId)) {
      this.#dirty.actors.add(actorId);
      return true;
    }
    const actor = this.#actors.get(actorId);
    if (actor === undefined) return false;
    this.#dirty.actors.add(actorId);
    this.#actors.delete(actorId);
    const node = this.#nodes.get(actor.nodeId);
    node?.actors.delete(actorId);
    if (actor.group !== undefined) {
      const bundle = this.#groups.get(actor.group.id)?.bundles[actor.group.bundleIndex];
      bundle?.actors.delete(actorId);
      if (bundle?.pool) giveBack(bundle.pool, actor.allocation);
    } else if (node !== undefined) {
      giveBack(node.free, actor.allocation);
    }
    return true;
  }

  /**
   * Places queued work in FIFO order (oldest first; an item that does not fit does not block younger ones, as in
   * Ray). Call after a node joins, an actor is released or a group is removed. Reasons of what stays are refreshed.
   */
  retryPending(): RetryResult {
    const result: RetryResult = { actors: [], placementGroups: [] };
    const items: Array<{ seq: number; run: () => void }> = [];
    for (const group of this.#groups.values()) {
      if (groupState(group) === "created") continue;
      items.push({
        seq: group.seq,
        run: () => {
          if (this.#reserveGroup(group)) result.placementGroups.push(group.id);
        },
      });
    }
    for (const pending of this.#pending.values()) {
      items.push({
        seq: pending.seq,
        run: () => {
          const need = normalizeRequest(`Invalid resource request for actor "${pending.actorId}"`, pending.request);
          const placed = this.#tryPlace(pending.actorId, pending.request, need, pending.options);
          if (placed.ok) {
            this.#pending.delete(pending.actorId);
            result.actors.push(this.placement(pending.actorId)!);
          } else {
            pending.reason = placed.reason;
          }
        },
      });
    }
    items.sort((a, b) => a.seq - b.seq);
    for (const item of items) item.run();
    return result;
  }

  /** Waiting actors and placement groups with their reasons, oldest first. */
  pending(): PendingView[] {
    const views: Array<PendingView & { seq: number }> = [];
    for (const group of this.#groups.values()) {
      if (groupState(group) !== "created") {
        views.push({ kind: "placementGroup", id: group.id, reason: group.reason ?? "", seq: group.seq });
      }
    }
    for (const p of this.#pending.values()) views.push({ kind: "actor", id: p.actorId, reason: p.reason, seq: p.seq });
    views.sort((a, b) => a.seq - b.seq);
    return views.map(({ kind, id, reason }) => ({ kind, id, reason }));
  }

  /**
   * Reserves all bundles of a group atomically, or queues the whole group with a reason (returned as
   * `{ok: false}`); {@link retryPending} finishes it later. Bundle i of the result is `bundles[i]`.
   */
  createPlacementGroup(
    id: string,
    bundles: Demand[],
    strategy: PlacementStrategy,
  ): { ok: true; nodeIds: string[] } | { ok: false; reason: string } {
    if (this.#groups.has(id)) throw new PlacementError(`Cannot create placement group "${id}": it already exists`);
    const group = newGroupRecord(id, bundles, strategy, this.#seq++);
    this.#groups.set(id, group);
    this.#dirty.groups.add(id);
    if (this.#reserveGroup(group)) return { ok: true, nodeIds: group.bundles.map((b) => b.nodeId!) };
    return { ok: false, reason: group.reason! };
  }

  /**
   * Removes a group: releases its reservations, and returns the actors that were inside it or waiting for it
   * (placed or queued); the caller kills them, as Ray does when a group is removed.
   */
  removePlacementGroup(id: string): string[] {
    const group = this.#groups.get(id);
    if (group === undefined) throw new NotFoundError(`Cannot remove placement group "${id}": it does not exist`);
    const affected: string[] = [];
    for (const bundle of group.bundles) affected.push(...bundle.actors);
    for (const p of this.#pending.values()) if (p.options.placementGroup === id) affected.push(p.actorId);
    for (const actorId of affected) this.release(actorId);
    for (const bundle of group.bundles) {
      const node = bundle.nodeId === null ? undefined : this.#nodes.get(bundle.nodeId);
      if (node !== undefined && bundle.reserved !== null) giveBack(node.free, bundle.reserved);
    }
    this.#groups.delete(id);
    this.#dirty.groups.add(id);
    return affected.sort();
  }

  /** Where an actor is placed, or undefined. */
  placement(actorId: string): ActorPlacement | undefined {
    const actor = this.#actors.get(actorId);
    return actor === undefined ? undefined : placementView(actor);
  }

  /** Every placed actor, sorted by id. */
  placements(): ActorPlacement[] {
    return [...this.#actors.keys()].sort().map((id) => this.placement(id)!);
  }

  /** Capacity and use of every node, sorted by id. */
  nodes(): NodeUsage[] {
    return [...this.#nodes.values()].sort((a, b) => (a.spec.id < b.spec.id ? -1 : 1)).map(nodeUsageView);
  }

  /** One placement group's view, or undefined. */
  placementGroup(id: string): PlacementGroupView | undefined {
    const group = this.#groups.get(id);
    return group === undefined ? undefined : groupView(group);
  }

  /** Every placement group, oldest first. */
  placementGroups(): PlacementGroupView[] {
    return [...this.#groups.values()].sort((a, b) => a.seq - b.seq).map((g) => this.placementGroup(g.id)!);
  }

  /** Plain-data state for persistence (JSON-safe). */
  toJSON(): SchedulerJson {
    return {
      version: 1,
      seq: this.#seq,
      nodes: [...this.#nodes.values()].map((n) => structuredClone(n.spec)),
      actors: [...this.#actors.values()].map(placedJson),
      groups: [...this.#groups.values()].map(groupJson),
      pending: [...this.#pending.values()].map(pendingJson),
    };
  }

  /** Marks every record changed, so the next {@link takeChanges} returns the whole state (a migration, a new bucket). */
  markAllChanged(): void {
    for (const id of this.#nodes.keys()) this.#dirty.nodes.add(id);
    for (const id of this.#groups.keys()) this.#dirty.groups.add(id);
    for (const id of [...this.#actors.keys(), ...this.#pending.keys()]) this.#dirty.actors.add(id);
  }

  /**
   * The records changed since the previous call, each as its current persisted form or null when it is gone
   * (see `persist.ts`). Persisting these keeps KV equal to {@link toJSON} at O(changed) cost per change.
   */
  takeChanges(): SchedulerChanges {
    const changes: SchedulerChanges = { nodes: [], groups: [], actors: [] };
    for (const id of this.#dirty.nodes) {
      const node = this.#nodes.get(id);
      changes.nodes.push([id, node === undefined ? null : structuredClone(node.spec)]);
    }
    for (const id of this.#dirty.groups) {
      const group = this.#groups.get(id);
      changes.groups.push([id, group === undefined ? null : groupJson(group)]);
    }
    for (const id of this.#dirty.actors) {
      changes.actors.push([id, actorEntry(this.#actors.get(id), this.#pending.get(id))]);
    }
    this.#dirty = { nodes: new Set(), groups: new Set(), actors: new Set() };
    return changes;
  }

  /** Rebuilds a scheduler from {@link toJSON} output; throws ConfigError naming the bad field. */
  static fromJSON(json: unknown): Scheduler {
    const data = parseSchedulerJson(json);
    try {
      return Scheduler.#restore(data);
    } catch (error) {
      // Well-formed but inconsistent state (a bad quantity, an actor on an unknown node) is still a bad snapshot.
      throw new ConfigError(`Invalid scheduler state: ${(error as Error).message}`, { cause: error });
    }
  }

  static #restore(data: SchedulerJson): Scheduler {
    const s = new Scheduler();
    s.#seq = data.seq;
    for (const spec of data.nodes) s.addNode(spec);
    for (const g of data.groups) s.#groups.set(g.id, groupRecordOf(g));
    for (const a of data.actors) {
      const node = s.#node(a.nodeId);
      s.#actors.set(a.actorId, { ...a });
      node.actors.add(a.actorId);
      if (a.group !== undefined) {
        const bundle = s.#groups.get(a.group.id)?.bundles[a.group.bundleIndex];
        if (bundle?.pool == null) {
          throw new ConfigError(`actor "${a.actorId}" names a missing bundle`);
        }
        bundle.actors.add(a.actorId);
        takeAllocation(bundle.pool, a.allocation);
      }
    }
    for (const node of s.#nodes.values()) s.#recomputeFree(node);
    for (const p of data.pending) {
      s.#pending.set(p.actorId, { ...p, reason: "" });
    }
    for (const group of s.#groups.values()) {
      if (groupState(group) !== "created") group.reason = explainGroup(group, s.#candidates());
    }
    for (const p of s.#pending.values()) {
      p.reason = explainActor(
        normalizeRequest(`Invalid actor "${p.actorId}"`, p.request),
        p.options,
        s.#groups,
        s.#nodes,
      );
    }
    // What was just read is what is stored.
    s.#dirty = { nodes: new Set(), groups: new Set(), actors: new Set() };
    return s;
  }

  #node(id: string): NodeSlot {
    const node = this.#nodes.get(id);
    if (node === undefined) throw new NotFoundError(`Node "${id}" is not registered`);
    return node;
  }

  #recomputeFree(node: NodeSlot): void {
    const free = clonePool(node.total);
    const take = (allocation: Allocation) => takeAllocation(free, allocation);
    for (const actorId of node.actors) {
      const actor = this.#actors.get(actorId)!;
      if (actor.group === undefined) take(actor.allocation);
    }
    for (const group of this.#groups.values()) {
      for (const bundle of group.bundles) if (bundle.nodeId === node.spec.id && bundle.reserved) take(bundle.reserved);
    }
    node.free = free;
  }

  #candidates(): Candidate[] {
    return candidatesOf(this.#nodes);
  }

  #tryPlace(actorId: string, request: Demand, need: NeedUnits, options: PlaceOptions): PlaceResult {
    checkGroupOption(actorId, options, this.#groups);
    if (options.placementGroup !== undefined) return this.#placeInGroup(actorId, request, need, options);
    const best = bestCandidate(this.#candidates().filter((c) => canTake(c, need)), need);
    if (best === undefined) return { ok: false, reason: explainActor(need, options, this.#groups, this.#nodes) };
    const node = this.#nodes.get(best.id)!;
    const allocation = allocate(node.free, need)!;
    this.#actors.set(actorId, { actorId, request: copyRequest(request), nodeId: best.id, allocation });
    this.#dirty.actors.add(actorId);
    node.actors.add(actorId);
    return { ok: true, nodeId: best.id, gpuIds: allocation.gpus.map(([id]) => id) };
  }

  #placeInGroup(actorId: string, request: Demand, need: NeedUnits, options: PlaceOptions): PlaceResult {
    const group = this.#groups.get(options.placementGroup!)!;
    const indexes = options.bundleIndex === undefined ? group.bundles.map((_, i) => i) : [options.bundleIndex];
    for (const index of indexes) {
      const bundle = group.bundles[index]!;
      if (bundle.pool === null || bundle.nodeId === null) continue;
      const node = this.#nodes.get(bundle.nodeId)!;
      if (!node.spec.alive || !canTake(bundleCandidate(group, index, this.#nodes), need)) continue;
      const allocation = allocate(bundle.pool, need)!;
      this.#actors.set(actorId, {
        actorId,
        request: copyRequest(request),
        nodeId: bundle.nodeId,
        allocation,
        group: { id: group.id, bundleIndex: index },
      });
      bundle.actors.add(actorId);
      node.actors.add(actorId);
      this.#dirty.actors.add(actorId);
      return { ok: true, nodeId: bundle.nodeId, gpuIds: allocation.gpus.map(([id]) => id), bundleIndex: index };
    }
    return { ok: false, reason: explainActor(need, options, this.#groups, this.#nodes) };
  }

  /** Tries to reserve every unreserved bundle of a group at once; on failure leaves it untouched with a reason. */
  #reserveGroup(group: GroupRecord): boolean {
    const assignment = assignBundles(group, this.#nodes);
    if (assignment === null) {
      group.reason = explainGroup(group, this.#candidates());
      return false;
    }
    for (const [index, nodeId] of assignment) {
      const bundle = group.bundles[index]!;
      const node = this.#nodes.get(nodeId)!;
      const reserved = allocate(node.free, bundle.need)!;
      bundle.nodeId = nodeId;
      bundle.reserved = reserved;
      bundle.pool = poolOf(reserved);
    }
    delete group.reason;
    this.#dirty.groups.add(group.id);
    return true;
  }
}
