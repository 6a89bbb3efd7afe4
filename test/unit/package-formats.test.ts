// src/package-formats.ts tells Node that drizzle-orm's relative imports are
// ES modules. That holds only while drizzle-orm says "type": "module" and
// has no package.json of its own below its root; and the modules it
// resolves must be the same instances Node's own resolution gives.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import "../../src/package-formats.ts";

const entry = fileURLToPath(import.meta.resolve("drizzle-orm"));
const root = entry.slice(
  0,
  entry.lastIndexOf("/node_modules/drizzle-orm/") + "/node_modules/drizzle-orm".length,
);

test("drizzle-orm is one ES module package, as the resolve hook assumes", () => {
  assert.equal(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).type, "module");
  const nested = readdirSync(root, { recursive: true, encoding: "utf8" }).filter(
    (path) => path.endsWith("package.json") && path !== "package.json",
  );
  assert.deepEqual(nested, [], "no nested package.json may change a file's format");
});

test("modules resolved by the hook are the ones Node resolves: drizzle's classes stay one", async () => {
  const { is, eq, sql } = await import("drizzle-orm");
  const { PgColumn, PgDialect, pgTable, text } = await import("drizzle-orm/pg-core");
  const table = pgTable("t", { id: text("id").primaryKey() });
  assert.ok(is(table.id, PgColumn));
  const query = new PgDialect().sqlToQuery(sql`select 1 from ${table} where ${eq(table.id, "x")}`);
  assert.equal(query.sql, 'select 1 from "t" where "t"."id" = $1');
  assert.deepEqual(query.params, ["x"]);
});
