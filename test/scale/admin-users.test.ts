// The admin console's user list with 100,000 users on PostgreSQL: every
// kind of page (newest first, a deep keyset page, address and name prefix
// search, role, provider and status filters, by address) is answered from an
// index, not by reading the table, and within a bound. The medians are
// printed for the README. Seeded with one INSERT ... SELECT; loopback only.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "drizzle-orm";
import { type UserListQuery, userDirectory } from "../../src/accounts/directory.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { createPostgresDatabase } from "../helpers/backends.ts";

const USERS = 100_000;
const RUNS = 7;
// A bound for a loaded, shared test machine; the printed medians are what to read.
const BOUND_MS = 250;

describe(`the user list with ${USERS.toLocaleString("en")} users (postgres)`, () => {
  let database: DatabaseHandle;
  const cursor = (value: unknown[]) => Buffer.from(JSON.stringify(value)).toString("base64url");

  before(async () => {
    database = await openDatabase({ kind: "postgres", url: await createPostgresDatabase() });
    const { db } = database;
    await db.execute(sql`
      insert into users (id, email, email_verified, name, roles, disabled_at, created_at)
      select 'u' || lpad(g::text, 6, '0'),
             'person' || g || '@company' || (g % 50) || '.example',
             g % 3 <> 0,
             'Person ' || g,
             case when g % 1000 = 0 then array['admin'] else '{}'::text[] end,
             case when g % 200 = 0 then now() else null end,
             timestamptz '2026-01-01' + g * interval '1 minute'
      from generate_series(1, ${USERS}) g`);
    await db.execute(sql`
      insert into oauth_identities (id, user_id, provider, subject, email_verified)
      select 'i' || g, 'u' || lpad(g::text, 6, '0'), case when g % 2 = 0 then 'github' else 'google' end, 's' || g, true
      from generate_series(1, ${USERS}, 7) g`);
    await db.execute(sql`analyze`);
  });
  after(async () => {
    await database?.close();
  });

  const cases: [string, UserListQuery][] = [
    ["newest first, page one", {}],
    [
      "newest first, 1,800 pages deep (keyset)",
      { cursor: cursor(["2026-01-08T10:40:00.000Z", "u010000"]) },
    ],
    ["address prefix", { q: "person4242" }],
    ["address prefix, broad (person1…)", { q: "person1" }],
    ["name prefix", { q: "Person 777" }],
    ["role admin (100 users)", { role: "admin" }],
    ["provider github", { provider: "github" }],
    ["verified and active", { verified: true, disabled: false }],
    ["disabled (500 users)", { disabled: true }],
    ["by address, page one", { sort: "email" }],
    ["by address, deep (keyset)", { sort: "email", cursor: cursor(["person5@company5.example"]) }],
  ];

  test("every page comes from an index within the bound; medians printed", async () => {
    const directory = userDirectory(database.db);
    const report: string[] = [];
    for (const [name, query] of cases) {
      const full = { limit: 50, ...query };
      const page = await directory.list(full);
      assert.ok(page.users.length > 0, `${name}: rows`);
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const started = performance.now();
        await directory.list(full);
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      const median = times[Math.floor(RUNS / 2)] as number;
      const { sql: text, params } = directory.listSql(full);
      const plan = (await database.db.execute(
        sql.raw(`explain ${inline(text, params)}`),
      )) as unknown as { "QUERY PLAN": string }[];
      const lines = [...plan].map((row) => row["QUERY PLAN"]).join("\n");
      assert.doesNotMatch(lines, /Seq Scan on users/, `${name}: reads the table\n${lines}`);
      assert.ok(median < BOUND_MS, `${name}: ${median.toFixed(1)} ms`);
      report.push(`${name}: ${median.toFixed(2)} ms (${page.users.length} rows)`);
    }
    console.log(`user list, ${USERS} users, median of ${RUNS}:\n  ${report.join("\n  ")}`);
  });
});

/** The statement with its parameters written in (for EXPLAIN, which takes no parameters here). */
function inline(text: string, params: unknown[]): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const value = params[Number(n) - 1];
    if (typeof value === "number") return String(value);
    if (typeof value === "boolean") return value ? "true" : "false";
    return `'${String(value).replaceAll("'", "''")}'`;
  });
}
