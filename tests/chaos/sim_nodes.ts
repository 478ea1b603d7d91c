/**
 * Simulated node agents for coordinator tests and the scale benchmark: many nodes served from one process over
 * real NATS. Each registers like `actors/agent.ts` does, answers start/stop orders (recording what it "runs",
 * without spawning processes), reports `ready` for what it starts, and can heartbeat its running list.
 */
import { decode, encode } from "../../shared/codec.ts";
import { errorReply, type NodeInfo, okReply, readReply, type RegisterReply } from "../../shared/protocol.ts";
import { type Subjects, subjectToken } from "../../shared/subjects.ts";
import type { Transport, TransportSubscription } from "../../shared/transport.ts";

/** Options for {@link SimNodes}. */
export interface SimNodesOptions {
  transport: Transport;
  subjects: Subjects;
  /** Nodes to simulate (id, capacity); `actors` is filled in from what each runs. */
  nodes: Array<Omit<NodeInfo, "actors" | "hostname"> & { hostname?: string }>;
  /** Report `ready` for every started actor. Default true. */
  reportReady?: boolean;
}

/** Simulated agents; see the module comment. */
export class SimNodes {
  readonly #options: SimNodesOptions;
  readonly #subscription: TransportSubscription;
  /** Per node: actor id -> incarnation it runs. */
  readonly running = new Map<string, Map<string, number>>();
  /** Highest fencing epoch each node has seen on an order. */
  readonly epochs = new Map<string, number>();
  /** Orders received, in order (node, op, actor). */
  readonly orders: Array<{ nodeId: string; op: string; actor?: string }> = [];

  constructor(options: SimNodesOptions) {
    this.#options = options;
    for (const node of options.nodes) this.running.set(node.id, new Map());
    // One wildcard subscription for every simulated agent: a thousand nodes need not be a thousand subscriptions.
    // Several SimNodes may share the wildcard (one per connection): each answers only for its own nodes.
    const subscription = this.#subscription = options.transport.subscribe(options.subjects.agent("*"));
    void (async () => {
      for await (const message of subscription) {
        const nodeId = subjectToken(message.subject, -1);
        if (!this.running.has(nodeId)) continue;
        let reply: Uint8Array;
        try {
          reply = okReply(this.#order(nodeId, decode(message.data) as Record<string, unknown>));
        } catch (error) {
          reply = errorReply(error);
        }
        await message.respond?.(reply).catch(() => {});
      }
    })();
  }

  #order(nodeId: string, order: Record<string, unknown>): null {
    const running = this.running.get(nodeId)!;
    this.epochs.set(nodeId, Math.max(this.epochs.get(nodeId) ?? 0, Number(order.epoch ?? 0)));
    if (order.op === "start") {
      const actor = order.actor as { id: string; incarnation: number };
      running.set(actor.id, actor.incarnation);
      this.orders.push({ nodeId, op: "start", actor: actor.id });
      if (this.#options.reportReady !== false) {
        const ready = { type: "ready", actorId: actor.id, incarnation: actor.incarnation, pid: 1 };
        void this.#options.transport.publish(this.#options.subjects.report(actor.id, nodeId), encode(ready));
      }
    } else if (order.op === "stop") {
      const id = String(order.actor);
      const incarnation = running.get(id);
      running.delete(id);
      this.orders.push({ nodeId, op: "stop", actor: id });
      if (incarnation !== undefined) {
        const exited = { type: "exited", actorId: id, incarnation, code: 0, nodeId };
        void this.#options.transport.publish(this.#options.subjects.report(id, nodeId), encode(exited));
      }
    } else this.orders.push({ nodeId, op: String(order.op) });
    return null;
  }

  #info(id: string): NodeInfo {
    const spec = this.#options.nodes.find((n) => n.id === id)!;
    const actors = [...this.running.get(id)!].map(([actorId, incarnation]) => ({ id: actorId, incarnation }));
    return { hostname: "sim", ...spec, actors };
  }

  /** Registers nodes (all by default), `concurrency` at a time; returns what the coordinator said to keep. */
  async register(ids = [...this.running.keys()], concurrency = 32): Promise<Map<string, string[]>> {
    const kept = new Map<string, string[]>();
    const queue = [...ids];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const request = { op: "register", node: this.#info(id) };
        const reply = await this.#options.transport.request(this.#options.subjects.node(id), encode(request), {
          timeoutMs: 30_000,
        });
        kept.set(id, (readReply(reply, "register") as RegisterReply).keep);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
    return kept;
  }

  /** Sends one heartbeat per node (all by default); returns the replies. */
  async heartbeat(ids = [...this.running.keys()]): Promise<Map<string, { known: boolean; epoch: number }>> {
    const replies = new Map<string, { known: boolean; epoch: number }>();
    await Promise.all(ids.map(async (id) => {
      const beat = { nodeId: id, actors: this.#info(id).actors };
      const reply = await this.#options.transport.request(this.#options.subjects.heartbeat(id), encode(beat), {
        timeoutMs: 10_000,
      });
      replies.set(id, readReply(reply, "heartbeat") as { known: boolean; epoch: number });
    }));
    return replies;
  }

  /** Stops answering orders. */
  close(): void {
    this.#subscription.unsubscribe();
  }
}
