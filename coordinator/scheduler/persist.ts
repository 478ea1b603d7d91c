/**
 * The scheduler's persisted form, one record at a time: each placed or queued actor, node spec and placement group
 * is its own KV entry (see `StateStore`), so a change costs one small write instead of rewriting the whole state,
 * and no entry grows with the cluster. `assembleScheduler` turns the entries read back after a restart into the
 * `SchedulerJson` that `Scheduler.fromJSON` validates.
 */
import { ConfigError } from "../../shared/mod.ts";
import { copyRequest, normalizeRequest, poolOf } from "./fit.ts";
import type { GroupRecord } from "./groups.ts";
import { type ActorEntry, type PendingActor, type PlacedActor, SCHEDULER_JSON, type SchedulerJson } from "./types.ts";

/** Per-record entries as read from KV (any order; entries of unknown shape are rejected by `fromJSON`). */
export interface SchedulerEntries {
  nodes: unknown[];
  groups: unknown[];
  actors: unknown[];
}

/** Validates persisted scheduler state; throws ConfigError naming the first bad field. */
export function parseSchedulerJson(json: unknown): SchedulerJson {
  const parsed = SCHEDULER_JSON.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`Invalid scheduler state at "${issue.path.join(".")}": ${issue.message}`);
  }
  return parsed.data as SchedulerJson;
}

/**
 * Builds the whole-state form from per-record entries. Entries are written nodes first, actors after (and deleted
 * in the reverse order), so a crash between writes leaves at worst an actor or bundle naming a node or group whose
 * entry is gone: such entries are dropped here (and listed in `dropped`) instead of making the whole state unreadable.
 */
export function assembleScheduler(entries: SchedulerEntries): { json: unknown; dropped: string[] } {
  const nodes = entries.nodes as SchedulerJson["nodes"];
  const groups = entries.groups as SchedulerJson["groups"];
  const nodeIds = new Set(nodes.map((n) => n?.id));
  const groupIds = new Set(groups.map((g) => g?.id));
  const dropped: string[] = [];
  for (const group of groups) {
    for (const bundle of group?.bundles ?? []) {
      if (bundle?.nodeId != null && !nodeIds.has(bundle.nodeId)) {
        dropped.push(`bundle of group "${group.id}" on unknown node "${bundle.nodeId}"`);
        Object.assign(bundle, { nodeId: null, reserved: null });
      }
    }
  }
  const actors: SchedulerJson["actors"] = [];
  const pending: SchedulerJson["pending"] = [];
  for (const entry of entries.actors as ActorEntry[]) {
    if (entry !== null && typeof entry === "object" && "placed" in entry) {
      const placed = entry.placed;
      const groupOk = placed?.group === undefined || groupIds.has(placed.group.id);
      if (nodeIds.has(placed?.nodeId) && groupOk) actors.push(placed);
      else dropped.push(`placement of actor "${placed?.actorId}"`);
    } else if (entry !== null && typeof entry === "object" && "pending" in entry) {
      const queued = entry.pending;
      const group = queued?.options?.placementGroup;
      if (group === undefined || groupIds.has(group)) pending.push(queued);
      else dropped.push(`queue entry of actor "${queued?.actorId}"`);
    } else {
      return { json: { actors: entry }, dropped }; // malformed: let fromJSON name it
    }
  }
  const seqs = [...groups.map((g) => g?.seq), ...pending.map((p) => p?.seq)].filter((n) => typeof n === "number");
  const seq = seqs.length === 0 ? 0 : Math.max(...seqs) + 1;
  return { json: { version: 1, seq, nodes, actors, groups, pending }, dropped };
}

export function placedJson(a: PlacedActor): SchedulerJson["actors"][number] {
  return {
    actorId: a.actorId,
    request: copyRequest(a.request),
    nodeId: a.nodeId,
    allocation: structuredClone(a.allocation),
    ...(a.group ? { group: { ...a.group } } : {}),
  };
}

export function pendingJson(p: PendingActor): SchedulerJson["pending"][number] {
  return { actorId: p.actorId, request: copyRequest(p.request), options: { ...p.options }, seq: p.seq };
}

export function groupJson(g: GroupRecord): SchedulerJson["groups"][number] {
  return {
    id: g.id,
    strategy: g.strategy,
    seq: g.seq,
    bundles: g.bundles.map((b) => ({
      request: copyRequest(b.request),
      nodeId: b.nodeId,
      reserved: b.reserved === null ? null : structuredClone(b.reserved),
    })),
  };
}

/** The live record of a persisted placement group (its actors are re-attached as they are read back). */
export function groupRecordOf(g: SchedulerJson["groups"][number]): GroupRecord {
  return {
    id: g.id,
    strategy: g.strategy,
    seq: g.seq,
    bundles: g.bundles.map((b, i) => ({
      request: b.request,
      need: normalizeRequest(`Invalid placement group "${g.id}", bundle ${i}`, b.request),
      nodeId: b.nodeId,
      reserved: b.reserved,
      pool: b.reserved === null ? null : poolOf(b.reserved),
      actors: new Set(),
    })),
  };
}

/** One actor's KV entry: placed, queued, or null once it is gone. */
export function actorEntry(placed: PlacedActor | undefined, pending: PendingActor | undefined): ActorEntry | null {
  if (placed !== undefined) return { placed: placedJson(placed) };
  return pending === undefined ? null : { pending: pendingJson(pending) };
}
