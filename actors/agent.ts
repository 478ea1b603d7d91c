/**
 * The node agent: registers the node's resources with the coordinator, heartbeats, and runs each actor in its own
 * Deno subprocess (the actor host). It reports process exits, forwards each actor's stdout/stderr as log lines,
 * and gives GPU actors only their GPUs (CUDA_VISIBLE_DEVICES) and CPU actors a thread budget.
 */
import { fileURLToPath } from "node:url";
import { encode } from "../shared/codec.ts";
import { CoopError } from "../shared/errors.ts";
import {
  type ActorRecord,
  agentOrderSchema,
  type HeartbeatReply,
  type LifecycleEvent,
  type LogLine,
  type NodeInfo,
  parseMessage,
  readReply,
  type RegisterReply,
} from "../shared/protocol.ts";
import { terminate } from "../shared/process.ts";
import { serveRequests } from "../shared/serving.ts";
import { checkToken, subjects } from "../shared/subjects.ts";
import type { Transport } from "../shared/transport.ts";
import type { HostSpec } from "./host.ts";
import { startWeightService, type WeightServiceOptions } from "./weights/mod.ts";

/** Options for {@link startAgent}. */
export interface AgentOptions {
  cluster?: string;
  nodeId?: string;
  cpus?: number;
  gpuIds?: number[];
  memoryMb?: number;
  custom?: Record<string, number>;
  labels?: Record<string, string>;
  /** Registry modules the actor hosts import (paths or URLs); the agent's own configuration only. */
  registry?: string[];
  heartbeatMs?: number;
  /** Environment given to actor hosts on top of the agent's (NATS connection settings, typically). */
  hostEnv?: Record<string, string>;
  /** Also print actor log lines on the agent's stderr, prefixed with the actor name. */
  echoLogs?: boolean;
  /** How long a graceful stop waits before SIGKILL (ms). Default 5000. */
  stopGraceMs?: number;
  /** This host's weight data plane (segment dir, cap, serving other hosts); env COOP_WEIGHTS_LISTEN also serves. */
  weights?: WeightServiceOptions;
}

/** A running agent. */
export interface Agent {
  readonly nodeId: string;
  /** Resolves when the agent was told to exit (or `stop()` finished). */
  readonly exited: Promise<void>;
  /** Stops every actor process, tells the coordinator, and stops listening. */
  stop(): Promise<void>;
}

interface ActorProcess {
  record: ActorRecord;
  child: Deno.ChildProcess;
  stopping: boolean;
  exited: Promise<void>;
}

const HOST_MAIN = fileURLToPath(new URL("./host_main.ts", import.meta.url));

/** Starts an agent on `transport`; it registers as soon as a coordinator answers. */
export function startAgent(transport: Transport, options: AgentOptions = {}): Agent {
  const names = subjects(options.cluster ?? "default");
  const nodeId = checkToken("node id", options.nodeId ?? `node-${crypto.randomUUID().slice(0, 8)}`);
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const graceMs = options.stopGraceMs ?? 5000;
  const processes = new Map<string, ActorProcess>();
  let stopped = false;
  let resolveExited = () => {};
  const exited = new Promise<void>((resolve) => resolveExited = resolve);
  // One per host: actors publish into and map from its directory, other hosts download from its server.
  const weights = startWeightService(names.cluster, transport, options.weights);

  const info = (): NodeInfo => ({
    id: nodeId,
    hostname: Deno.hostname(),
    cpus: options.cpus ?? navigator.hardwareConcurrency,
    gpuIds: options.gpuIds ?? [],
    memoryMb: options.memoryMb ?? Math.floor(Deno.systemMemoryInfo().total / 2 ** 20),
    custom: options.custom ?? {},
    labels: options.labels ?? {},
    actors: [...processes.values()].filter((p) => !p.stopping)
      .map((p) => ({ id: p.record.id, incarnation: p.record.incarnation })),
    epoch,
  });

  const publish = (subject: string, value: unknown) => transport.publish(subject, encode(value)).catch(() => {});

  const register = async (): Promise<void> => {
    for (let delay = 100; !stopped; delay = Math.min(delay * 2, 2000)) {
      try {
        const node = info();
        const live = new Set(node.actors.map((a) => a.id));
        node.records = [...processes.values()].filter((p) => live.has(p.record.id)).map((p) => p.record);
        const reply = readReply(
          await transport.request(names.node(nodeId), encode({ op: "register", node }), { timeoutMs: 5000 }),
          "register",
        ) as RegisterReply;
        try {
          fence(reply.epoch, "a registration reply");
        } catch (error) {
          // A deposed leader's answer (or one from a leader that has not yet caught up with our epoch): its keep list
          // must not stop anything. The next heartbeat to the real leader registers again.
          console.error((error as Error).message);
          return;
        }
        // Processes the coordinator no longer assigns here (rescheduled while we were cut off) must go; actors
        // started while the request was in flight were not reported, so they stay.
        for (const { id, incarnation } of node.actors) {
          if (!reply.keep.includes(id)) void stopActor(id, incarnation, false);
        }
        return;
      } catch (error) {
        if (stopped) return;
        if ((error as Error).name !== "NoRespondersError" && (error as Error).name !== "CallTimeoutError") {
          console.error(`Agent "${nodeId}" cannot register: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  };

  const startActor = (record: ActorRecord, args: Uint8Array): void => {
    const old = processes.get(record.id);
    if (old !== undefined) {
      if (old.record.incarnation >= record.incarnation) return;
      void stopActor(record.id, old.record.incarnation, false);
    }
    const threads = Math.max(1, Math.ceil(record.options.resources.cpu ?? 1));
    const env: Record<string, string> = {
      ...weights.env,
      ...options.hostEnv,
      COOP_ACTOR_ID: record.id,
      // Names the process for whoever inspects it (ps, /proc/<pid>/environ; `./coop bench real --cluster`).
      COOP_ACTOR_NAME: record.name ?? record.id,
      COOP_THREADS: String(threads),
      OMP_NUM_THREADS: String(threads),
      // CPU actors see no GPU at all; GPU actors only theirs.
      CUDA_VISIBLE_DEVICES: (record.gpuIds ?? []).join(","),
      COOP_REGISTRY: (options.registry ?? []).join(","),
    };
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", HOST_MAIN],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const spec: HostSpec = { cluster: names.cluster, nodeId, actor: record, args };
    // Length-prefixed spec; stdin then stays open so the host sees EOF (and exits) if this agent dies.
    const body = encode(spec);
    const frame = new Uint8Array(4 + body.byteLength);
    new DataView(frame.buffer).setUint32(0, body.byteLength);
    frame.set(body, 4);
    const writer = child.stdin.getWriter();
    void writer.write(frame).catch(() => {});
    const label = record.name ?? record.id;
    const logs = forwardLogs(child, (lines) => {
      if (options.echoLogs) { for (const l of lines) console.error(`[${label}] ${l.line}`); }
      void publish(names.logs(record.id), { actorId: record.id, lines });
    });
    const proc: ActorProcess = {
      record,
      child,
      stopping: false,
      exited: child.status.then(async (status) => {
        await logs;
        if (processes.get(record.id) === proc) processes.delete(record.id);
        const event: LifecycleEvent = {
          type: "exited",
          actorId: record.id,
          incarnation: record.incarnation,
          code: status.code,
          signal: status.signal ?? undefined,
          nodeId,
        };
        await publish(names.report(record.id, nodeId), event);
      }),
    };
    processes.set(record.id, proc);
  };

  const stopActor = async (id: string, incarnation: number, graceful: boolean): Promise<void> => {
    const proc = processes.get(id);
    if (proc === undefined || proc.record.incarnation !== incarnation) return;
    proc.stopping = true;
    await terminate(proc.child, graceMs, { signal: graceful ? "SIGTERM" : "SIGKILL", exited: proc.exited });
  };

  // Fencing: the highest leader epoch seen (orders, heartbeat replies); orders from a lower one are a deposed
  // leader's and are refused.
  let epoch = 0;
  const fence = (seen: number | undefined, what: string): void => {
    if (seen === undefined) return;
    if (seen < epoch) {
      throw new CoopError(`Agent "${nodeId}" refused ${what}: leader epoch ${seen} is older than ${epoch}`);
    }
    epoch = seen;
  };

  const handle = (request: ReturnType<typeof agentOrderSchema.parse>): unknown => {
    fence(request.epoch, `a "${request.op}" order`);
    switch (request.op) {
      case "start":
        if (stopped) throw new CoopError(`Agent "${nodeId}" is stopping: not starting "${request.actor.id}"`);
        startActor(request.actor, request.args);
        return null;
      case "stop":
        void stopActor(request.actor, request.incarnation, request.graceful);
        return null;
      case "exit":
        queueMicrotask(() => void stop());
        return null;
    }
  };

  const control = serveRequests(
    transport,
    names.agent(nodeId),
    (data) => handle(parseMessage(agentOrderSchema, data, "agent order")),
    { onError: (error) => console.error(`Agent "${nodeId}" rejected a request: ${(error as Error).message}`) },
  );

  const beat = async () => {
    if (stopped) return;
    try {
      const reply = readReply(
        await transport.request(
          names.heartbeat(nodeId),
          encode({ nodeId, actors: info().actors, epoch }),
          { timeoutMs: Math.max(heartbeatMs, 2000) },
        ),
        "heartbeat",
      ) as HeartbeatReply;
      try {
        fence(reply.epoch, "a heartbeat reply");
      } catch (error) {
        console.error((error as Error).message);
      }
      if (!reply.known) await register();
    } catch { /* coordinator or server away; keep beating */ }
  };
  const heartbeat = setInterval(() => void beat(), heartbeatMs);
  void register();

  const stop = async (): Promise<void> => {
    if (stopped) return exited;
    stopped = true;
    clearInterval(heartbeat);
    // Leave first, so the coordinator reschedules elsewhere instead of reading our actors' exits as crashes and
    // placing them back here; then stop the processes, letting their in-flight calls finish.
    await transport.request(names.node(nodeId), encode({ op: "deregister", nodeId }), { timeoutMs: 2000 })
      .catch(() => {});
    await Promise.all([...processes.values()].map((p) => stopActor(p.record.id, p.record.incarnation, true)));
    control.unsubscribe();
    await weights.stop();
    resolveExited();
  };

  return { nodeId, exited, stop };
}

/** Reads a child's stdout/stderr line by line and hands batches to `sink` (at most every 100 ms). */
async function forwardLogs(child: Deno.ChildProcess, sink: (lines: LogLine[]) => void): Promise<void> {
  let batch: LogLine[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    timer = undefined;
    if (batch.length === 0) return;
    sink(batch);
    batch = [];
  };
  const read = async (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr") => {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) batch.push({ ts: Date.now(), stream: name, line: line.slice(0, 4096) });
      if (batch.length >= 100) flush();
      else timer ??= setTimeout(flush, 100);
    }
    if (rest) batch.push({ ts: Date.now(), stream: name, line: rest.slice(0, 4096) });
  };
  await Promise.all([read(child.stdout, "stdout"), read(child.stderr, "stderr")]).catch(() => {});
  clearTimeout(timer);
  flush();
}
