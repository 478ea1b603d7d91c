/**
 * Plain-text views of the cluster for `coop status` and the demo: aligned tables of nodes, actors and waiting
 * placement groups, built from the same {@link ClusterSnapshot} the API serves.
 */

import type { ActorView, ClusterSnapshot, NodeView } from "./api.ts";

/** Column alignment for {@link formatTable}. */
export type Align = "left" | "right";

/** Options for {@link formatTable}. */
export interface TableOptions {
  /** Per-column alignment; default left. Numbers read best right-aligned. */
  align?: Align[];
  /** Spaces between columns; default 2. */
  gap?: number;
}

/**
 * Formats rows as an aligned text table with a header line and a dashed rule. The last column is not padded, so a
 * long free-text column (a pending reason) does not push trailing spaces onto every line.
 */
export function formatTable(header: string[], rows: string[][], options: TableOptions = {}): string {
  const gap = " ".repeat(options.gap ?? 2);
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells.map((cell, i) => {
      if (i === header.length - 1 && options.align?.[i] !== "right") return cell;
      const pad = " ".repeat(widths[i]! - width(cell));
      return options.align?.[i] === "right" ? pad + cell : cell + pad;
    }).join(gap).trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join(gap);
  return [line(header), rule, ...rows.map((r) => line(header.map((_, i) => r[i] ?? "")))].join("\n");
}

// Counts code points, so "µs" or "≥" do not skew alignment the way UTF-16 length would.
function width(text: string): number {
  return [...text].length;
}

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
