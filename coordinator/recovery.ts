/**
 * A coordinator's start from KV: records are loaded, the scheduler is rebuilt from its per-record entries, and the
 * two are reconciled. The actor records are the truth: scheduler entries are written before a placement's record
 * and after a release's record (see `core.ts`), so a crash between two writes leaves an entry the records
 * contradict; it is released here, so no resources are lost for good and nothing is placed twice.
 */
import { assembleScheduler, Scheduler } from "./scheduler/mod.ts";
import { type CoordinatorCore, killedError, LIVE } from "./core.ts";
import type { LoadedState } from "./state_store.ts";
import { createLogger } from "../shared/mod.ts";

const log = createLogger({ component: "coordinator" });

// How long after finding the state empty or lost the coordinator adopts what agents report (they re-register within
// a heartbeat or two of a coordinator's start or of NATS coming back).
const ADOPT_WINDOW_MS = 30_000;

/** Fills the core from what `StateStore.load()` read, then reconciles the scheduler with the records. */
export async function recover(core: CoordinatorCore, state: LoadedState): Promise<void> {
  await restoreScheduler(core, state);
  const now = Date.now();
  for (const node of state.nodes) {
    // Every node gets a fresh grace period: heartbeats sent while no coordinator ran were lost.
    if (node.state === "alive") node.lastHeartbeat = now;
    core.seen.set(node.id, performance.now());
    core.nodes.set(node.id, node);
  }
  for (const actor of state.actors) {
    core.changed.set(actor.id, performance.now());
    core.actors.set(actor.id, actor);
    core.index(actor);
    if (actor.name && actor.state !== "dead") core.names.set(actor.name, actor.id);
  }
  for (const [id, args] of state.args) core.args.set(id, args);
  for (const group of state.groups) core.groups.set(group.id, group);
  releaseStale(core);
  await core.persistScheduler();
  if (!state.marked) {
    // A bucket without the marker is new, or was recreated after its JetStream data was lost. (One with records but
    // no marker was written before the marker existed.) Agents may still run actors: adopt them, do not kill them.
    if (state.actors.length === 0 && state.nodes.length === 0) core.adoptUntil = performance.now() + ADOPT_WINDOW_MS;
    await core.store.mark();
  }
  if (state.actors.length > 0 || state.nodes.length > 0) {
    log.info(`recovered ${state.nodes.length} nodes and ${state.actors.length} actors from KV`);
  }
}

async function restoreScheduler(core: CoordinatorCore, state: LoadedState): Promise<void> {
  const perRecord = state.scheduler.nodes.length + state.scheduler.groups.length + state.scheduler.actors.length;
  try {
    if (perRecord === 0 && state.legacyScheduler !== null) {
      // A bucket written by a coordinator that kept the whole state in one key: take it over, once.
      core.scheduler = Scheduler.fromJSON(state.legacyScheduler);
      core.scheduler.markAllChanged();
      await core.persistScheduler();
      await core.store.deleteLegacyScheduler();
      return;
    }
    const { json, dropped } = assembleScheduler(state.scheduler);
    if (dropped.length > 0) log.warn(`dropped dangling scheduler entries: ${dropped.join("; ")}`);
    core.scheduler = Scheduler.fromJSON(json);
  } catch (error) {
    log.warn(`ignoring unreadable scheduler state: ${(error as Error).message}`);
  }
}

/**
 * Releases placements and queue entries of actors that are dead, unknown, or recorded on another node (or on no
 * node: a crash between the placement's entry and its record).
 */
function releaseStale(core: CoordinatorCore): void {
  const stale: string[] = [];
  for (const placement of core.scheduler.placements()) {
    const record = core.actors.get(placement.actorId);
    if (record === undefined || !LIVE.has(record.state) || record.nodeId !== placement.nodeId) {
      stale.push(placement.actorId);
    }
  }
  for (const queued of core.scheduler.pending()) {
    if (queued.kind !== "actor") continue;
    const record = core.actors.get(queued.id);
    if (record === undefined || record.state === "dead") stale.push(queued.id);
  }
  for (const id of stale) core.scheduler.release(id);
  if (stale.length > 0) log.info(`released ${stale.length} stale scheduler entries after restart`);
}

/**
 * Once serving: actors in no scheduler structure (waiting for a delayed restart, or caught between two writes) are
 * placed again, and live actors on nodes already dead are restarted. Run inside `core.serial()`.
 */
export async function resumeActors(core: CoordinatorCore): Promise<void> {
  for (const record of core.actors.values()) {
    const waiting = record.state === "pending" || record.state === "restarting";
    if (waiting && !record.nodeId && !core.scheduled(record.id)) await core.place(record);
    else if (LIVE.has(record.state) && record.nodeId !== undefined && !core.nodeAlive(record.nodeId)) {
      if (record.state === "stopping") await core.died(record, killedError(record));
      else await core.crashed(record, `node "${record.nodeId}" was lost while no coordinator ran`);
    }
  }
  await core.placePending();
}

/**
 * Detects lost JetStream data while running (the bucket or its marker is gone: nats-server restarted without its
 * store) and repairs it: the bucket is recreated and everything this coordinator holds in memory is written back,
 * so agents and actors carry on. When the bucket cannot be recreated, says so loudly on every check.
 */
export async function checkStore(core: CoordinatorCore): Promise<void> {
  if (await core.store.intact()) return;
  await core.serial(async () => {
    if (core.stopped || await core.store.intact()) return;
    log.error(
      "the JetStream state bucket is gone or empty (nats-server lost its store); recreating it",
    );
    try {
      await core.store.recreate();
      const written = await core.rewriteStore();
      core.adoptUntil = performance.now() + ADOPT_WINDOW_MS;
      log.info(`rewrote ${written} records from memory into the recreated state bucket`);
    } catch (error) {
      log.error(
        `CANNOT RECOVER the lost JetStream state (${(error as Error).message}); the cluster runs on ` +
          "in memory but a coordinator restart now would lose every record",
      );
    }
  });
}
