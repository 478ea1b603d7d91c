/**
 * The repository's import graph, read from source text: every static `import`/`export … from` and every dynamic
 * `import("…")` with a literal relative specifier. Used by the layout tests to hold the house's boundaries (folder
 * APIs through `mod.ts`, layers pointing one way, no cycles) without running any module.
 */
import { dirname, join, normalize, relative } from "node:path";

/** One relative import: the importing file and the file it names, both relative to the repository root. */
export interface ImportEdge {
  from: string;
  to: string;
}

const SKIP_DIRS = new Set(["node_modules", ".git", "runs", "out"]);
const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\s[^'";]*?\sfrom\s*["'](\.{1,2}\/[^"']+)["']|(?:^|[\s;])import\s*["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/gm;

/** Every `.ts` file under `root` (relative paths), skipping dependencies, run outputs and VCS data. */
export function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(join(root, dir))) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory && !SKIP_DIRS.has(entry.name)) walk(path);
      else if (entry.isFile && entry.name.endsWith(".ts")) files.push(path);
    }
  };
  walk("");
  return files.sort();
}

/** The relative imports of one file's source text, resolved against the file's folder. */
export function importsOf(file: string, source: string): ImportEdge[] {
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const edges: ImportEdge[] = [];
  for (const match of withoutComments.matchAll(SPECIFIER)) {
    const specifier = match[1] ?? match[2] ?? match[3]!;
    edges.push({ from: file, to: normalize(join(dirname(file), specifier)) });
  }
  return edges;
}

/** All relative import edges of the repository at `root`. */
export function importGraph(root: string): ImportEdge[] {
  return sourceFiles(root).flatMap((file) => importsOf(file, Deno.readTextFileSync(join(root, file))));
}

/** The top-level folder of a repository-relative path (`"engine"` for `engine/io/config.ts`). */
export function topFolder(path: string): string {
  return path.split("/")[0]!;
}

/** Strongly connected components with more than one node (Tarjan), each sorted; the graph's cycles. */
export function cycles(edges: { from: string; to: string }[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (from === to) continue;
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node)!) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) visit(node);
  return found;
}

/** `path` relative to `root`, with forward slashes. */
export function repoPath(root: string, path: string): string {
  return relative(root, path).replaceAll("\\", "/");
}
