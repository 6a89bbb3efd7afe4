// The shape of src/, checked: dependencies between folders point one way (no
// cycles), the shared kernel depends on nothing else, infrastructure modules
// never see the whole configuration, and no route file grows past a page.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const SRC = resolve("src");
/** Infrastructure: handed only their slice of the settings, never config.ts. */
const INFRASTRUCTURE = ["mail/", "redis/", "db/"];
const ROUTE_FILE_MAX_LINES = 200;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(name) ? [path] : [];
  });
}

/** A folder is one node ("oauth/"); a file at the top of src/ is its own ("config.ts"). */
function nodeOf(file: string): string {
  const path = relative(SRC, file);
  const slash = path.indexOf("/");
  return slash === -1 ? path : path.slice(0, slash + 1);
}

type Edge = { from: string; to: string };

function importEdges(): Edge[] {
  const edges: Edge[] = [];
  const pattern =
    /(?:^|\n)\s*(?:import|export)\b[^"']*?from\s+"(\.[^"]+)"|import\(\s*"(\.[^"]+)"\s*\)/g;
  for (const file of sourceFiles(SRC)) {
    for (const match of readFileSync(file, "utf8").matchAll(pattern)) {
      const target = resolve(dirname(file), (match[1] ?? match[2]) as string);
      if (target.startsWith(SRC)) edges.push({ from: file, to: target });
    }
  }
  return edges;
}

/** Strongly connected groups of more than one node: each is a cycle. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node) as number, low.get(to) as number));
      } else if (onStack.has(to))
        low.set(node, Math.min(low.get(node) as number, index.get(to) as number));
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop() as string;
      onStack.delete(member);
      group.push(member);
    } while (member !== node);
    if (group.length > 1) found.push(group.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

test("no import cycle between folders of src/", () => {
  const graph = new Map<string, Set<string>>();
  for (const { from, to } of importEdges()) {
    const [a, b] = [nodeOf(from), nodeOf(to)];
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)?.add(b);
    if (!graph.has(b)) graph.set(b, new Set());
  }
  assert.ok(graph.size > 10, "the graph was read");
  assert.deepEqual(cycles(graph), []);
});

test("the kernel imports nothing of gatehouse but itself", () => {
  const outside = importEdges()
    .filter(({ from, to }) => nodeOf(from) === "kernel/" && nodeOf(to) !== "kernel/")
    .map(({ from, to }) => `${relative(SRC, from)} → ${relative(SRC, to)}`);
  assert.deepEqual(outside, []);
});

test("infrastructure modules never import the whole configuration", () => {
  const wrong = importEdges()
    .filter(({ from, to }) => INFRASTRUCTURE.includes(nodeOf(from)) && nodeOf(to) === "config.ts")
    .map(({ from }) => relative(SRC, from));
  assert.deepEqual(wrong, []);
});
test("dependencies point one way: the HTTP edge imports no store, no domain module imports Hono", () => {
  const httpToDb = importEdges()
    .filter(({ from, to }) => nodeOf(from) === "http/" && nodeOf(to) === "db/")
    .map(({ from }) => relative(SRC, from));
  assert.deepEqual(httpToDb, []);
  const withHono = sourceFiles(SRC)
    .filter((file) => !["http/", "app.ts", "server.ts"].includes(nodeOf(file)))
    .filter((file) => /from "hono(\/[^"]*)?"/.test(readFileSync(file, "utf8")))
    .map((file) => relative(SRC, file));
  assert.deepEqual(withHono, []);
});

test(`no route file of the hosted side is longer than ${ROUTE_FILE_MAX_LINES} lines`, () => {
  const routes = sourceFiles(join(SRC, "http", "auth"));
  assert.ok(routes.length >= 7, "one file per concern");
  const long = routes
    .map((file) => ({
      file: relative(SRC, file),
      lines: readFileSync(file, "utf8").split("\n").length,
    }))
    .filter(({ lines }) => lines > ROUTE_FILE_MAX_LINES);
  assert.deepEqual(long, []);
});
