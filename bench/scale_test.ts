import { assert, assertEquals } from "../tests/runtime/assert.ts";
import { CLUSTER_TEST } from "../tests/runtime/cluster_fixture.ts";
import { runScaleBench } from "./scale.ts";

Deno.test({
  name: "bench scale - a small run places every actor, keeps exact accounting and recovers the same usage",
  ...CLUSTER_TEST,
  async fn() {
    // runScaleBench throws when simulated nodes run another count than spawned, cpus used differ from what was
    // asked, a sched.actor key is missing, or the successor's usage differs.
    const result = await runScaleBench(["--quick", "--nodes", "8", "--actors", "60", "--concurrency", "8"]);
    assertEquals([result.nodes, result.actors], [8, 60]);
    assert(
      result.largest_sched_entry_bytes < 512,
      `scheduler entries stay small (${result.largest_sched_entry_bytes})`,
    );
    assert(result.spawn_p50_ms > 0 && result.kv_puts_per_s > 0);
  },
});
