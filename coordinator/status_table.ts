/**
 * Plain-text views of the cluster for `coop status` and the demo: aligned tables of nodes, actors and waiting
 * placement groups, built from the same {@link ClusterSnapshot} the API serves.
 */

import { formatTable } from "../shared/mod.ts";
import type { ActorView, ClusterSnapshot, NodeView } from "./http/mod.ts";

/** Formats a number compactly: integers as is, fractions with at most two decimals. */
export function formatQuantity(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 100) / 100);
}

function usedOf(total: number, free: number): string {
  return `${formatQuantity(total - free)}/${formatQuantity(total)}`;
}

function gpuCell(node: NodeView): string {
  const total = node.total.gpus.length;
  if (total === 0) return "-";
  return `${total - node.free.gpus.length}/${total} (${node.total.gpus.join(",")})`;
}

function labelsCell(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? "-" : entries.map(([k, v]) => `${k}=${v}`).join(",");
}

function resourcesCell(node: NodeView): string {
  const names = Object.keys(node.total.resources).sort();
  if (names.length === 0) return "-";
  return names.map((n) => `${n} ${usedOf(node.total.resources[n]!, node.free.resources[n] ?? 0)}`).join(",");
}

/** The nodes table, sorted by id: capacity used/total per resource, labels, actor count, liveness. */
export function formatNodesTable(nodes: NodeView[]): string {
  return formatTable(
    [
      "node",
      "address",
      "cpu used/total",
      "gpus used/total (ids)",
      "mem MB used/total",
      "resources",
      "labels",
      "actors",
      "alive",
    ],
    [...nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((n) => [
      n.id,
      n.address ?? "-",
      usedOf(n.total.cpu, n.free.cpu),
      gpuCell(n),
      usedOf(n.total.memoryMb, n.free.memoryMb),
      resourcesCell(n),
      labelsCell(n.labels),
      String(n.actors.length),
      n.alive ? "yes" : "NO",
    ]),
    { align: ["left", "left", "right", "right", "right", "left", "left", "right", "left"] },
  );
}

/** The actors table: identity, placement, state, restarts, and why it waits (when it does). */
export function formatActorsTable(actors: ActorView[]): string {
  return formatTable(
    ["actor", "name", "class", "node", "gpus", "state", "restarts", "pending reason / error"],
    actors.map((a) => [
      a.id,
      a.name ?? "-",
      a.className,
      a.nodeId ?? "-",
      a.gpuIds !== undefined && a.gpuIds.length > 0 ? a.gpuIds.join(",") : "-",
      a.state,
      a.maxRestarts === undefined ? String(a.restarts) : `${a.restarts}/${a.maxRestarts}`,
      a.pendingReason ?? a.error ?? "",
    ]),
    { align: ["left", "left", "left", "left", "left", "left", "right", "left"] },
  );
}

/** Formats the whole cluster: a coordinator line, nodes, actors, then placement groups that are still waiting. */
export function formatClusterTable(snapshot: ClusterSnapshot): string {
  const c = snapshot.coordinator;
  const parts = [
    `Coordinator ${c.id}${c.version ? ` v${c.version}` : ""}, started ${c.startedAt}${
      c.natsUrl ? `, NATS ${c.natsUrl}` : ""
    }`,
    "",
    `Nodes (${snapshot.nodes.filter((n) => n.alive).length} alive of ${snapshot.nodes.length})`,
    snapshot.nodes.length === 0 ? "(no nodes registered)" : formatNodesTable(snapshot.nodes),
    "",
    `Actors (${snapshot.actors.length})`,
    snapshot.actors.length === 0 ? "(no actors)" : formatActorsTable(snapshot.actors),
  ];
  const waitingGroups = snapshot.placementGroups.filter((g) => g.state !== "created");
  if (waitingGroups.length > 0) {
    parts.push(
      "",
      `Placement groups waiting (${waitingGroups.length})`,
      formatTable(
        ["group", "strategy", "state", "bundles", "reason"],
        waitingGroups.map((g) => [g.id, g.strategy, g.state, String(g.bundles.length), g.reason ?? ""]),
      ),
    );
  }
  return parts.join("\n");
}
