/**
 * The node agent: registers the node's resources with the coordinator, heartbeats, and runs each actor in its own
 * Deno subprocess (the actor host). It reports process exits, forwards each actor's stdout/stderr as log lines,
 * and gives GPU actors only their GPUs (CUDA_VISIBLE_DEVICES) and CPU actors a thread budget.
 */
import { fileURLToPath } from "node:url";
import { encode } from "../shared/mod.ts";
import { CoopError } from "../shared/mod.ts";
import { createLogger } from "../shared/mod.ts";
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
} from "../shared/mod.ts";
import { NATS_AUTH_ENV_VARS, terminate } from "../shared/mod.ts";
import { serveRequests } from "../shared/mod.ts";
import { checkToken, subjects } from "../shared/mod.ts";
import type { Transport } from "../shared/mod.ts";
import type { HostSpec } from "./host.ts";
import { defaultWeightsDir, startWeightService, WEIGHTS_ENV, type WeightServiceOptions } from "./weights/mod.ts";
import { type HostCommand, hostCommand, sandboxedWeightsDir } from "./host_permissions.ts";
import { type AccountSigner, accountSignerFromEnv, actorInboxPrefix, mintActorCreds } from "./actor_creds.ts";

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
  /**
   * Deno permissions of actor hosts: "least" (default: actors/host_permissions.ts derives them from the
   * environment) or "all" (`-A`, for actors that need more; also env COOP_HOST_PERMISSIONS=all).
   */
  hostPermissions?: "least" | "all";
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

type AgentOrder = ReturnType<typeof agentOrderSchema.parse>;

const log = createLogger({ component: "agent" });

const HOST_MAIN = fileURLToPath(new URL("./host_main.ts", import.meta.url));

/** Starts an agent on `transport`; it registers as soon as a coordinator answers. */
export function startAgent(transport: Transport, options: AgentOptions = {}): Agent {
  return new NodeAgent(transport, options);
}

/** The agent's state and its handlers: registration, heartbeats, orders, and one subprocess per actor. */
class NodeAgent implements Agent {
  readonly nodeId: string;
  readonly exited: Promise<void>;
  #transport: Transport;
  #options: AgentOptions;
  #names: ReturnType<typeof subjects>;
  #heartbeatMs: number;
  #graceMs: number;
  #processes = new Map<string, ActorProcess>();
  #stopped = false;
  #resolveExited = () => {};
  #weights: ReturnType<typeof startWeightService>;
  /** How actor hosts are started: permission flags and environment. */
  #host: HostCommand;
  /** Mints per-actor NATS credentials (COOP_NATS_ACCOUNT*); hosts then never get the agent's. */
  #signer: AccountSigner | undefined;
  #credsDir: string | undefined;
  #control: { unsubscribe(): void };
  #heartbeat: ReturnType<typeof setInterval>;
  // Fencing: the highest leader epoch seen (orders, heartbeat replies); orders from a lower one are a deposed
  // leader's and are refused.
  #epoch = 0;

  constructor(transport: Transport, options: AgentOptions) {
    this.#transport = transport;
    this.#options = options;
    this.#names = subjects(options.cluster ?? "default");
    this.nodeId = checkToken("node id", options.nodeId ?? `node-${crypto.randomUUID().slice(0, 8)}`);
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#graceMs = options.stopGraceMs ?? 5000;
    this.exited = new Promise<void>((resolve) => this.#resolveExited = resolve);
    // One per host: actors publish into and map from its directory, other hosts download from its server.
    const all = (options.hostPermissions ?? Deno.env.get("COOP_HOST_PERMISSIONS")) === "all";
    const weightsDir = options.weights?.dir ?? Deno.env.get(WEIGHTS_ENV.dir) ?? defaultWeightsDir();
    this.#weights = startWeightService(this.#names.cluster, transport, {
      ...options.weights,
      dir: all ? weightsDir : sandboxedWeightsDir(weightsDir, Deno.env.get("TMPDIR")),
    });
    this.#signer = accountSignerFromEnv(Deno.env.toObject());
    const hostEnv = { ...Deno.env.toObject(), ...this.#weights.env, ...options.hostEnv };
    this.#host = hostCommand({
      // With per-actor credentials, hosts neither get nor may read the agent's.
      env: this.#signer === undefined ? hostEnv : withoutNatsAuth(hostEnv),
      registry: options.registry ?? [],
      all,
    });
    this.#control = serveRequests(
      transport,
      this.#names.agent(this.nodeId),
      (data) => this.#handle(parseMessage(agentOrderSchema, data, "agent order")),
      {
        onError: (error) => log.warn(`Agent "${this.nodeId}" rejected a request: ${(error as Error).message}`),
      },
    );
    this.#heartbeat = setInterval(() => void this.#beat(), this.#heartbeatMs);
    void this.#register();
  }

  /** Stops every actor process, tells the coordinator, and stops listening. */
  stop = async (): Promise<void> => {
    if (this.#stopped) return this.exited;
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    // Leave first, so the coordinator reschedules elsewhere instead of reading our actors' exits as crashes and
    // placing them back here; then stop the processes, letting their in-flight calls finish.
    await this.#transport.request(
      this.#names.node(this.nodeId),
      encode({ op: "deregister", nodeId: this.nodeId }),
      { timeoutMs: 2000 },
    ).catch(() => {});
    await Promise.all(
      [...this.#processes.values()].map((p) => this.#stopActor(p.record.id, p.record.incarnation, true)),
    );
    this.#control.unsubscribe();
    await this.#weights.stop();
    if (this.#credsDir !== undefined) await Deno.remove(this.#credsDir, { recursive: true }).catch(() => {});
    this.#resolveExited();
  };

  #info(): NodeInfo {
    const options = this.#options;
    return {
      id: this.nodeId,
      hostname: Deno.hostname(),
      cpus: options.cpus ?? navigator.hardwareConcurrency,
      gpuIds: options.gpuIds ?? [],
      memoryMb: options.memoryMb ?? Math.floor(Deno.systemMemoryInfo().total / 2 ** 20),
      custom: options.custom ?? {},
      labels: options.labels ?? {},
      actors: [...this.#processes.values()].filter((p) => !p.stopping)
        .map((p) => ({ id: p.record.id, incarnation: p.record.incarnation })),
      epoch: this.#epoch,
    };
  }

  #publish(subject: string, value: unknown): Promise<void> {
    return this.#transport.publish(subject, encode(value)).catch(() => {});
  }

  async #register(): Promise<void> {
    for (let delay = 100; !this.#stopped; delay = Math.min(delay * 2, 2000)) {
      try {
        await this.#registerOnce();
        return;
      } catch (error) {
        if (this.#stopped) return;
        if ((error as Error).name !== "NoRespondersError" && (error as Error).name !== "CallTimeoutError") {
          log.warn(`Agent "${this.nodeId}" cannot register: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async #registerOnce(): Promise<void> {
    const node = this.#info();
    const live = new Set(node.actors.map((a) => a.id));
    node.records = [...this.#processes.values()].filter((p) => live.has(p.record.id)).map((p) => p.record);
    const reply = readReply(
      await this.#transport.request(this.#names.node(this.nodeId), encode({ op: "register", node }), {
        timeoutMs: 5000,
      }),
      "register",
    ) as RegisterReply;
    try {
      this.#fence(reply.epoch, "a registration reply");
    } catch (error) {
      // A deposed leader's answer (or one from a leader that has not yet caught up with our epoch): its keep list
      // must not stop anything. The next heartbeat to the real leader registers again.
      log.warn((error as Error).message);
      return;
    }
    // Processes the coordinator no longer assigns here (rescheduled while we were cut off) must go; actors
    // started while the request was in flight were not reported, so they stay.
    for (const { id, incarnation } of node.actors) {
      if (!reply.keep.includes(id)) void this.#stopActor(id, incarnation, false);
    }
  }

  /** Writes the actor's own creds file (0600, in a 0700 dir of this agent); returns its path. */
  async #mint(record: ActorRecord, signer: AccountSigner): Promise<string> {
    this.#credsDir ??= await Deno.makeTempDir({ prefix: `coop-creds-${this.nodeId}-` });
    const file = `${this.#credsDir}/${record.id}.${record.incarnation}.creds`;
    const { calls, blobWrite } = record.options;
    const creds = await mintActorCreds({
      names: this.#names,
      actorId: record.id,
      nodeId: this.nodeId,
      signer,
      grants: { calls, blobWrite },
    });
    await Deno.writeFile(file, creds, { mode: 0o600 });
    return file;
  }

  #startActor(record: ActorRecord, args: Uint8Array, creds?: string): void {
    const old = this.#processes.get(record.id);
    if (old !== undefined) {
      if (old.record.incarnation >= record.incarnation) {
        if (creds !== undefined) void Deno.remove(creds).catch(() => {});
        return;
      }
      void this.#stopActor(record.id, old.record.incarnation, false);
    }
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...this.#host.flags, ...(creds === undefined ? [] : [`--allow-read=${creds}`]), HOST_MAIN],
      env: this.#hostEnv(record, creds),
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    sendSpec(child, { cluster: this.#names.cluster, nodeId: this.nodeId, actor: record, args });
    const label = record.name ?? record.id;
    const logs = forwardLogs(child, (lines) => {
      if (this.#options.echoLogs) { for (const l of lines) log.info(l.line, { actor: label, stream: l.stream }); }
      void this.#publish(this.#names.logs(record.id), { actorId: record.id, lines });
    });
    const proc: ActorProcess = { record, child, stopping: false, exited: Promise.resolve() };
    proc.exited = child.status.then(async (status) => {
      await logs;
      if (creds !== undefined) await Deno.remove(creds).catch(() => {});
      if (this.#processes.get(record.id) === proc) this.#processes.delete(record.id);
      const event: LifecycleEvent = {
        type: "exited",
        actorId: record.id,
        incarnation: record.incarnation,
        code: status.code,
        signal: status.signal ?? undefined,
        nodeId: this.nodeId,
      };
      await this.#publish(this.#names.report(record.id, this.nodeId), event);
    });
    this.#processes.set(record.id, proc);
  }

  #hostEnv(record: ActorRecord, creds?: string): Record<string, string> {
    const threads = Math.max(1, Math.ceil(record.options.resources.cpu ?? 1));
    return {
      ...this.#host.env,
      // Its own credential, and the inbox prefix that credential lets it subscribe below.
      ...(creds === undefined
        ? {}
        : { COOP_NATS_CREDS: creds, COOP_NATS_INBOX_PREFIX: actorInboxPrefix(this.#names, record.id) }),
      COOP_ACTOR_ID: record.id,
      // Names the process for whoever inspects it (ps, /proc/<pid>/environ; `./coop bench real --cluster`).
      COOP_ACTOR_NAME: record.name ?? record.id,
      COOP_THREADS: String(threads),
      OMP_NUM_THREADS: String(threads),
      // CPU actors see no GPU at all; GPU actors only theirs.
      CUDA_VISIBLE_DEVICES: (record.gpuIds ?? []).join(","),
      COOP_REGISTRY: (this.#options.registry ?? []).join(","),
    };
  }

  async #stopActor(id: string, incarnation: number, graceful: boolean): Promise<void> {
    const proc = this.#processes.get(id);
    if (proc === undefined || proc.record.incarnation !== incarnation) return;
    proc.stopping = true;
    await terminate(proc.child, this.#graceMs, { signal: graceful ? "SIGTERM" : "SIGKILL", exited: proc.exited });
  }

  #fence(seen: number | undefined, what: string): void {
    if (seen === undefined) return;
    if (seen < this.#epoch) {
      throw new CoopError(`Agent "${this.nodeId}" refused ${what}: leader epoch ${seen} is older than ${this.#epoch}`);
    }
    this.#epoch = seen;
  }

  #handle(request: AgentOrder): unknown {
    this.#fence(request.epoch, `a "${request.op}" order`);
    switch (request.op) {
      case "start":
        if (this.#stopped) {
          throw new CoopError(`Agent "${this.nodeId}" is stopping: not starting "${request.actor.id}"`);
        }
        if (this.#signer === undefined) {
          this.#startActor(request.actor, request.args);
          return null;
        }
        return this.#mint(request.actor, this.#signer).then((creds) => {
          this.#startActor(request.actor, request.args, creds);
          return null;
        });
      case "stop":
        void this.#stopActor(request.actor, request.incarnation, request.graceful);
        return null;
      case "exit":
        queueMicrotask(() => void this.stop());
        return null;
    }
  }

  async #beat(): Promise<void> {
    if (this.#stopped) return;
    try {
      const reply = readReply(
        await this.#transport.request(
          this.#names.heartbeat(this.nodeId),
          encode({ nodeId: this.nodeId, actors: this.#info().actors, epoch: this.#epoch }),
          { timeoutMs: Math.max(this.#heartbeatMs, 2000) },
        ),
        "heartbeat",
      ) as HeartbeatReply;
      try {
        this.#fence(reply.epoch, "a heartbeat reply");
      } catch (error) {
        log.warn((error as Error).message);
      }
      if (!reply.known) await this.#register();
    } catch { /* coordinator or server away; keep beating */ }
  }
}

/** `env` without any NATS authentication setting (an actor host then gets its own creds file). */
function withoutNatsAuth(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !(NATS_AUTH_ENV_VARS as readonly string[]).includes(name)),
  );
}

/** Writes the length-prefixed spec; stdin then stays open so the host sees EOF (and exits) if this agent dies. */
function sendSpec(child: Deno.ChildProcess, spec: HostSpec): void {
  const body = encode(spec);
  const frame = new Uint8Array(4 + body.byteLength);
  new DataView(frame.buffer).setUint32(0, body.byteLength);
  frame.set(body, 4);
  const writer = child.stdin.getWriter();
  void writer.write(frame).catch(() => {});
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
