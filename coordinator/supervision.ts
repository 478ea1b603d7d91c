/**
 * Supervision of nodes and their actors: registrations, heartbeats, lifecycle reports, lost nodes. Each function
 * works on the coordinator's `CoordinatorCore`; callers run the state-changing ones inside `core.serial()`.
 */
import { encode } from "../shared/mod.ts";
import { errorFromWire } from "../shared/mod.ts";
import {
  type ActorRecord,
  type ActorReport,
  checkSender,
  encodeCall,
  type Heartbeat,
  type HeartbeatReply,
  type NodeInfo,
  PING_METHOD,
  readReply,
  type RegisterReply,
} from "../shared/mod.ts";
import { type CoordinatorCore, killedError, label, LIVE } from "./core.ts";
import { toNodeRecord, toSchedulerNode, toSchedulerRequest } from "./requests.ts";
import { createLogger } from "../shared/mod.ts";

const log = createLogger({ component: "coordinator" });

// How long after a start order an actor may be missing from its agent's heartbeats.
const START_GRACE_MS = 5000;

/** A node (re-)registers; returns the ids of its running actors it should keep, and the epoch. */
export async function register(core: CoordinatorCore, info: NodeInfo): Promise<RegisterReply> {
  await core.epochAbove(info.epoch, info.id);
  const node = toNodeRecord(info, core.nodes.get(info.id), Date.now());
  core.seen.set(node.id, performance.now());
  core.nodes.set(node.id, node);
  const spec = toSchedulerNode(info);
  if (core.scheduler.nodes().some((n) => n.id === info.id)) core.scheduler.updateNode(info.id, spec);
  else core.scheduler.addNode({ id: info.id, ...spec });
  if (performance.now() < core.adoptUntil) await adopt(core, info);
  await core.persistScheduler();
  await core.store.putNode(node);
  log.info(`node "${node.id}" joined (${node.cpus} cpus, gpus [${node.gpuIds.join(",")}])`);
  const running = new Map(info.actors.map((a) => [a.id, a.incarnation]));
  const keep: string[] = [];
  for (const record of core.onNode(info.id)) {
    if (!LIVE.has(record.state)) continue;
    if (running.get(record.id) === record.incarnation) keep.push(record.id);
    else if (record.state === "alive") await core.crashed(record, `node "${info.id}" no longer runs it`);
  }
  // After computing `keep`: actors placed now are started by `launch`, not reported by the agent.
  await core.placePending();
  return { keep, epoch: core.epoch };
}

/**
 * Takes into the registry the actors a node runs and no record knows, from the records its agent sent: the state
 * was lost (see `CoordinatorCore.adoptUntil`), and killing them would lose the work they hold. Their constructor
 * arguments are gone with the state, so an adopted actor that later crashes dies with a clear error.
 */
async function adopt(core: CoordinatorCore, info: NodeInfo): Promise<void> {
  const running = new Map(info.actors.map((a) => [a.id, a.incarnation]));
  const adopted: ActorRecord[] = [];
  for (const reported of info.records ?? []) {
    if (core.actors.has(reported.id) || running.get(reported.id) !== reported.incarnation) continue;
    if (reported.name !== undefined && core.names.has(reported.name)) continue; // its name went to another: stop it
    const record: ActorRecord = { ...reported, state: "alive", nodeId: info.id };
    // Placement groups were lost with the state: the actor keeps running where it is, outside any group.
    const { placementGroup: _group, bundleIndex: _bundle, ...options } = record.options;
    record.options = options;
    delete record.pendingReason;
    core.scheduler.adopt(record.id, toSchedulerRequest(record), info.id, record.gpuIds ?? []);
    core.actors.set(record.id, record);
    if (record.name !== undefined) core.names.set(record.name, record.id);
    adopted.push(record);
  }
  if (adopted.length === 0) return;
  await core.persistScheduler();
  for (const record of adopted) await core.save(record);
  log.warn(
    `adopted ${adopted.length} running actors of node "${info.id}" that the (lost) state did not ` +
      "know; their constructor arguments are lost, so they are not restarted if they crash",
  );
}

/** A heartbeat: refreshes the node and, in the background, reconciles its process list with the records. */
export function heartbeat(core: CoordinatorCore, beat: Heartbeat): HeartbeatReply {
  const node = core.nodes.get(beat.nodeId);
  if (beat.epoch !== undefined && beat.epoch > core.epoch) {
    void core.serial(() => core.epochAbove(beat.epoch, beat.nodeId)).catch((error) =>
      log.error(`cannot raise the epoch: ${(error as Error).message}`)
    );
  }
  if (node === undefined || node.state !== "alive") return { known: false, epoch: core.epoch };
  node.lastHeartbeat = Date.now();
  core.seen.set(node.id, performance.now());
  // One queued reconciliation per node, with its latest beat: a thousand nodes beating every second must not fill
  // the serial queue faster than it drains (spawns would wait behind thousands of stale beats).
  const queued = core.beats.has(beat.nodeId);
  core.beats.set(beat.nodeId, new Map(beat.actors.map((a) => [a.id, a.incarnation])));
  if (!queued) {
    void core.serial(async () => {
      const running = core.beats.get(beat.nodeId);
      core.beats.delete(beat.nodeId);
      if (running !== undefined) await reconcileBeat(core, beat.nodeId, running);
    });
  }
  return { known: true, epoch: core.epoch };
}

/** Reconciles a node's running list with the records that name it. Inside `core.serial()`. */
async function reconcileBeat(core: CoordinatorCore, nodeId: string, running: Map<string, number>): Promise<void> {
  for (const record of core.onNode(nodeId)) {
    if (record.nodeId === nodeId) await checkRunning(core, record, running, nodeId);
  }
  for (const [id, incarnation] of running) {
    const record = core.actors.get(id);
    if (record === undefined || record.nodeId !== nodeId || record.incarnation !== incarnation) {
      const stop = { op: "stop", actor: id, incarnation, graceful: false, epoch: core.epoch };
      await core.transport.publish(core.subjects.agent(nodeId), encode(stop)).catch(() => {});
    }
  }
}

/** One actor recorded on a beating node: missing twice in a row means its exit event was lost. */
async function checkRunning(
  core: CoordinatorCore,
  record: ActorRecord,
  running: Map<string, number>,
  nodeId: string,
): Promise<void> {
  // A start the agent never received (or a process whose exit event was lost) shows up as a missing process;
  // the agent lists a process from the moment it spawns it, so slow starts are not mistaken for lost ones.
  const starting = (record.state === "starting" || record.state === "restarting") &&
    core.sinceChange(record.id) > START_GRACE_MS;
  if (record.state !== "alive" && !starting) return;
  if (running.get(record.id) === record.incarnation) {
    core.missing.delete(record.id);
    // Running but still not alive past the grace: its `ready` may have been lost (sent while no coordinator
    // ran). Ask the host itself; any answer means it serves.
    if (starting) void probeReady(core, record);
    return;
  }
  const misses = (core.missing.get(record.id) ?? 0) + 1;
  core.missing.set(record.id, misses);
  if (misses >= 2) {
    core.missing.delete(record.id);
    await core.crashed(record, `node "${nodeId}" no longer runs it`);
  }
}

/** Marks a starting actor alive when its host answers a ping (see `PING_METHOD`); outside `serial` while asking. */
async function probeReady(core: CoordinatorCore, record: ActorRecord): Promise<void> {
  const incarnation = record.incarnation;
  let pid: unknown;
  try {
    const subject = core.subjects.call(record.id, incarnation);
    pid = readReply(await core.transport.request(subject, encodeCall(PING_METHOD, []), { timeoutMs: 1000 }), "ping");
  } catch {
    return; // not serving yet (no responders) or busy: the next beat asks again
  }
  await core.serial(async () => {
    if (record.incarnation !== incarnation || (record.state !== "starting" && record.state !== "restarting")) return;
    log.warn(`actor "${label(record)}" answers but its ready report was lost; marking it alive`);
    record.state = "alive";
    if (typeof pid === "number") record.pid = pid;
    await core.save(record);
  });
}

/** A report from node `from` about one of its actors; reports about actors placed elsewhere are ignored. */
export function lifecycle(core: CoordinatorCore, event: ActorReport, from: string): Promise<void> {
  if (event.type === "exited") checkSender("an exit report", event.nodeId, from);
  return core.serial(async () => {
    const record = core.actors.get(event.actorId);
    if (record === undefined || record.incarnation !== event.incarnation || record.state === "dead") return;
    if (record.nodeId !== from) {
      log.warn(`ignored a "${event.type}" report on "${record.id}" from node "${from}"`);
      return;
    }
    if (event.type === "ready") {
      if (record.state !== "starting" && record.state !== "restarting") return;
      record.state = "alive";
      record.pid = event.pid;
      await core.save(record);
    } else if (event.type === "failed") {
      if (record.restarts === 0) await core.died(record, errorFromWire(event.error));
      else await core.crashed(record, `restore failed: ${event.error.message}`);
    } else if (event.type === "exited") {
      if (record.nodeId !== event.nodeId) return;
      if (record.state === "stopping") await core.died(record, killedError(record));
      else await core.crashed(record, `process exited (${event.signal ?? `code ${event.code}`})`);
    }
  });
}

/** Declares nodes dead whose heartbeats stopped for longer than `timeoutMs` (monotonic clock). */
export async function checkNodes(core: CoordinatorCore, timeoutMs: number): Promise<void> {
  const now = performance.now();
  for (const node of core.nodes.values()) {
    const silent = now - (core.seen.get(node.id) ?? now);
    if (node.state === "alive" && silent > timeoutMs) {
      await nodeLost(core, node.id, `missed heartbeats for ${Math.round(silent)} ms`);
    }
  }
}

/** A node is gone (timed out or left): its actors are restarted elsewhere or, when stopping, declared dead. */
export async function nodeLost(core: CoordinatorCore, nodeId: string, why: string): Promise<null> {
  const node = core.nodes.get(nodeId);
  if (node === undefined || node.state === "dead") return null;
  log.warn(`node "${nodeId}" ${why}; rescheduling its actors`);
  node.state = "dead";
  await core.store.putNode(node);
  if (core.scheduler.nodes().some((n) => n.id === nodeId)) core.scheduler.removeNode(nodeId);
  for (const record of core.onNode(nodeId)) {
    if (record.nodeId !== nodeId || !LIVE.has(record.state)) continue;
    if (record.state === "stopping") await core.died(record, killedError(record));
    else await core.crashed(record, `node "${nodeId}" ${why}`);
  }
  await core.syncGroups();
  await core.persistScheduler();
  return null;
}
