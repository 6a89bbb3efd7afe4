// PostgreSQL unreachable: the resolver fails closed (503, never 200) unless a
// session is already cached, logins answer 503 quickly, the cookie is never
// cleared, and everything works again once the database is back.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import postgres from "postgres";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { createPostgresDatabase } from "../helpers/backends.ts";
import {
  login,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";

let url: string;
let database: DatabaseHandle;
let uncached: RunningGatehouse;
let cached: RunningGatehouse;
let admin: postgres.Sql;
const name = () => new URL(url).pathname.slice(1);

async function setReachable(reachable: boolean) {
  await admin.unsafe(`alter database ${name()} allow_connections ${reachable}`);
  if (!reachable)
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name()}`;
}

before(async () => {
  url = await createPostgresDatabase();
  admin = postgres(process.env.TEST_POSTGRES_URL as string, { max: 1, onnotice: () => {} });
  database = await openDatabase({ kind: "postgres", url });
  uncached = await startGatehouse(database, { SESSION_CACHE_TTL: "0" });
  cached = await startGatehouse(database, { SESSION_CACHE_TTL: "1h" });
});
after(async () => {
  await setReachable(true);
  await uncached.stop();
  await cached.stop();
  await database.close();
  await admin.end();
});

test("with the database down: fail closed, keep cached sessions, 503 logins, no cookie cleared", async () => {
  const email = uniqueEmail();
  const cookie = await register(uncached.url, email);
  const resolveOn = (server: RunningGatehouse, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/_resolve`, {
      headers: {
        "x-original-uri": "/app",
        "x-original-method": "GET",
        "x-forwarded-host": "app.example.test",
        ...headers,
      },
    });
  assert.equal((await resolveOn(cached, { cookie })).status, 200, "warm the cache");

  await setReachable(false);
  try {
    const failed = await resolveOn(uncached, { cookie });
    assert.equal(failed.status, 503);
    assert.equal(failed.headers.get("cache-control"), "no-store");
    assert.equal(failed.headers.get("set-cookie"), null);
    assert.equal(
      (await resolveOn(cached, { cookie })).status,
      200,
      "cached sessions keep resolving",
    );
    const unknown = await resolveOn(uncached, { cookie: `gatehouse_session=${"Q".repeat(43)}` });
    assert.notEqual(unknown.status, 200);

    const started = performance.now();
    const refused = await login(uncached.url, email);
    assert.equal(refused.status, 503);
    assert.ok(performance.now() - started < 10_000, "answers instead of hanging");
    assert.equal(refused.headers.get("set-cookie"), null);
    const logout = await fetch(`${uncached.url}/auth/logout`, {
      method: "POST",
      headers: { cookie, accept: "application/json" },
    });
    assert.equal(logout.status, 503);
    assert.equal(logout.headers.get("set-cookie"), null, "a store failure never clears the cookie");
    assert.equal((await fetch(`${uncached.url}/readyz`)).status, 503);
  } finally {
    await setReachable(true);
  }
  assert.equal((await resolveOn(uncached, { cookie })).status, 200, "the same cookie works again");
  assert.equal((await login(uncached.url, email)).status, 200);
});
