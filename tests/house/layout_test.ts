/**
 * The house's boundaries as tests (issue 14): code outside a top-level folder reaches it only through a `mod.ts`,
 * layers point one way (shared ← engine ← rl ← actors ← coordinator), and neither files nor folders import each
 * other in a cycle. Failures list every offending import so the fix is mechanical.
 */
import { assertEquals } from "../runtime/assert.ts";
import { cycles, importGraph, sourceFiles, topFolder } from "./import_graph.ts";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const LAYERS = ["shared", "engine", "rl", "actors", "coordinator"];
const edges = importGraph(ROOT);
/** Tests and benchmarks may reach into what they measure; tests/ is the harness every test shares. */
const isTestOrBench = (file: string) => file.endsWith("_test.ts") || ["tests", "bench"].includes(topFolder(file));
const product = edges.filter((edge) => !isTestOrBench(edge.from));

/**
 * Folder cycles still standing, each as its sorted folders joined by " ↔ ". The list may only shrink: a new cycle
 * fails, and so does a listed one that is gone (delete its line). A folder importing its own sub-folder's mod.ts
 * while that sub-folder imports the parent's files is what they are: the parent's low-level files want a sub-folder
 * of their own.
 */
// Empty since coordinator/http/ and coordinator/local/ took what run/ and dashboard/ used from the top of
// coordinator/; a new cycle fails here until it is broken (or, knowingly, listed).
const KNOWN_FOLDER_CYCLES: string[] = [];

Deno.test("imports across top-level folders go through a mod.ts", () => {
  const deep = product
    .filter(({ from, to }) => topFolder(from) !== topFolder(to) && !to.endsWith("/mod.ts"))
    .map(({ from, to }) => `${from} -> ${to}`);
  assertEquals(deep, []);
});

Deno.test("layers import only the layers below them", () => {
  const upward = product
    .filter(({ from, to }) => LAYERS.indexOf(topFolder(to)) > LAYERS.indexOf(topFolder(from)))
    .filter(({ from }) => LAYERS.includes(topFolder(from)))
    .map(({ from, to }) => `${from} -> ${to}`);
  assertEquals(upward, []);
});

Deno.test("no import cycles between files", () => {
  assertEquals(cycles(product), []);
});

Deno.test("no import cycles between folders beyond the known ones", () => {
  const folderEdges = product.map(({ from, to }) => ({ from: dirname(from), to: dirname(to) }));
  assertEquals(cycles(folderEdges).map((cycle) => cycle.join(" ↔ ")).sort(), [...KNOWN_FOLDER_CYCLES].sort());
});

Deno.test("no product file is over 600 lines", () => {
  const long = sourceFiles(ROOT).filter((file) => !isTestOrBench(file))
    .map((file) => ({ file, lines: Deno.readTextFileSync(join(ROOT, file)).split("\n").length }))
    .filter(({ lines }) => lines > 600)
    .map(({ file, lines }) => `${file}: ${lines} lines`);
  assertEquals(long, []);
});
