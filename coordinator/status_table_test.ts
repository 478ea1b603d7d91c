import assert from "node:assert/strict";
import type { ClusterSnapshot } from "./http/mod.ts";
import { formatClusterTable, formatQuantity } from "./status_table.ts";

function snapshot(): ClusterSnapshot {
  return {
    coordinator: { id: "coord-1", startedAt: "2026-01-01T00:00:00.000Z", natsUrl: "nats://127.0.0.1:4222" },
    nodes: [
      {
        id: "gpu-node",
        address: "10.0.0.2",
        alive: true,
        labels: { zone: "a" },
        total: { cpu: 8, memoryMb: 16384, gpus: [0, 1], resources: { tpu: 2 } },
        free: { cpu: 6.5, memoryMb: 12288, gpus: [1], resources: { tpu: 1 } },
        actors: ["learner-1"],
      },
      {
        id: "cpu",
        alive: false,
        labels: {},
        total: { cpu: 2, memoryMb: 0, gpus: [], resources: {} },
        free: { cpu: 2, memoryMb: 0, gpus: [], resources: {} },
        actors: [],
      },
    ],
    actors: [
      {
        id: "learner-1",
        name: "learner",
        className: "PolicyLearner",
        nodeId: "gpu-node",
        state: "alive",
        restarts: 1,
        maxRestarts: 3,
        gpuIds: [0],
      },
      {
        id: "rm-2",
        className: "RewardActor",
        nodeId: null,
        state: "pending",
        restarts: 0,
        pendingReason: 'No node has 2 free GPUs (largest free: node "gpu-node" with 1); waiting',
      },
    ],
    pending: [],
    placementGroups: [{
      id: "pg",
      strategy: "STRICT_SPREAD",
      state: "pending",
      bundles: [{ request: { cpu: 1 }, nodeId: null, gpuIds: [] }],
      reason: "needs 3 distinct nodes",
    }],
  };
}

Deno.test("formatClusterTable - shows nodes, actors, reasons and waiting groups", () => {
  const text = formatClusterTable(snapshot());
  const lines = text.split("\n");
  assert.equal(lines[0], "Coordinator coord-1, started 2026-01-01T00:00:00.000Z, NATS nats://127.0.0.1:4222");
  assert.ok(text.includes("Nodes (1 alive of 2)"));
  const gpuRow = lines.find((l) => l.startsWith("gpu-node"))!;
  assert.match(gpuRow, /10\.0\.0\.2\s+1\.5\/8\s+1\/2 \(0,1\)\s+4096\/16384\s+tpu 1\/2\s+zone=a\s+1\s+yes$/);
  assert.match(lines.find((l) => l.startsWith("cpu "))!, /NO$/);
  assert.ok(lines.indexOf(lines.find((l) => l.startsWith("cpu "))!) < lines.indexOf(gpuRow), "nodes sorted by id");
  assert.match(lines.find((l) => l.startsWith("learner-1"))!, /PolicyLearner\s+gpu-node\s+0\s+alive\s+1\/3$/);
  assert.match(lines.find((l) => l.startsWith("rm-2"))!, /pending\s+0\s+No node has 2 free GPUs/);
  assert.match(lines.find((l) => l.startsWith("pg "))!, /STRICT_SPREAD\s+pending\s+1\s+needs 3 distinct nodes$/);
  // Header and rows of each table share column starts.
  const header = lines.find((l) => l.startsWith("node "))!;
  assert.equal(header.indexOf("address"), gpuRow.indexOf("10.0.0.2"));
});

Deno.test("formatClusterTable - an empty cluster says so", () => {
  const text = formatClusterTable({ ...snapshot(), nodes: [], actors: [], placementGroups: [] });
  assert.ok(text.includes("(no nodes registered)"));
  assert.ok(text.includes("(no actors)"));
  assert.ok(!text.includes("Placement groups"));
});

Deno.test("formatQuantity - trims fractions", () => {
  assert.equal(formatQuantity(2), "2");
  assert.equal(formatQuantity(0.1 + 0.2), "0.3");
  assert.equal(formatQuantity(1.005), "1");
});
