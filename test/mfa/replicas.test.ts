// A factor proven on one replica is seen by another within 100 ms: two gatehouses
// on one PostgreSQL and one Redis, with caches long enough (60 s, in memory
// and in Redis) that only the drop recordFactor sends (Redis eviction and the
// revocation message) can make the second replica read the session again.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { createLogger } from "../../src/logger.ts";
import { totpCodeAt } from "../../src/mfa/totp.ts";
import { connectRedis, type SharedRedis } from "../../src/redis/client.ts";
import { createPostgresDatabase } from "../helpers/backends.ts";
import { configFile } from "../helpers/config-file.ts";
import {
  askResolve,
  bodyOf,
  login,
  type RunningGatehouse,
  register,
  sessionCookie,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postJson } from "../helpers/http.ts";
import { startRedis } from "../helpers/redis-server.ts";

describe("a factor proven on one replica", () => {
  let database: DatabaseHandle;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const shared: SharedRedis[] = [];
  const replicas: RunningGatehouse[] = [];

  before(async () => {
    const url = await createPostgresDatabase();
    database = await openDatabase({ kind: "postgres", url });
    redis = await startRedis();
    const env = {
      DATABASE_URL: url,
      REDIS_URL: redis.url,
      SESSION_CACHE_TTL: "60s",
      REDIS_CACHE_TTL: "60s",
      GATEHOUSE_CONFIG: configFile("rules:\n  - path: /admin/**\n    mfa: true\n"),
    };
    for (let i = 0; i < 2; i++) {
      const client = connectRedis(loadConfig({ REDIS_URL: redis.url }), createLogger("silent"));
      shared.push(client as SharedRedis);
      replicas.push(await startGatehouse(database, env, { redis: client as SharedRedis }));
    }
    for (let i = 0; i < 100 && !shared.every((client) => client.isReady()); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
  });
  after(async () => {
    for (const replica of replicas) await replica.stop();
    for (const client of shared) await client.close();
    await redis?.stop();
    await database?.close();
  });

  test("resolves on the other replica at once, with the new amr", async () => {
    const [a, b] = replicas as [RunningGatehouse, RunningGatehouse];
    const email = uniqueEmail();
    const enrolling = await register(a.url, email);
    const { secret } = await bodyOf(await fetch(`${a.url}/auth/mfa/totp`, postJson({}, enrolling)));
    await fetch(
      `${a.url}/auth/mfa/totp/confirm`,
      postJson({ code: totpCodeAt(secret, Date.now()) }, enrolling),
    );
    // A password-only session from before: both replicas (and Redis) hold it, step-up owed.
    const half = await login(a.url, email);
    assert.equal((await bodyOf(half)).status, "mfa_required");
    const recovery = (
      await bodyOf(await fetch(`${a.url}/auth/mfa/recovery-codes`, postJson({}, enrolling)))
    ).recoveryCodes[0];
    const halfCookie = (half.headers.getSetCookie()[0] ?? "").split(";")[0] ?? "";
    const signedIn = await fetch(`${a.url}/auth/mfa/verify`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: halfCookie },
      body: JSON.stringify({ kind: "recovery", code: recovery }),
    });
    const cookie = sessionCookie(signedIn);
    assert.equal((await askResolve(b.url, "/admin/", { cookie })).status, 200);
    // The session that enrolled was made before any factor: it proved otp while enrolling.
    assert.equal((await askResolve(b.url, "/admin/", { cookie: enrolling })).status, 200);

    // A step-up on replica A, of a session replica B (and Redis) hold without the factor.
    const other = uniqueEmail();
    const first = await register(a.url, other);
    const second = sessionCookie(await login(a.url, other));
    const started = await bodyOf(await fetch(`${a.url}/auth/mfa/totp`, postJson({}, first)));
    const confirmed = await fetch(
      `${a.url}/auth/mfa/totp/confirm`,
      postJson({ code: totpCodeAt(started.secret, Date.now() - 30_000) }, first),
    );
    assert.equal(confirmed.status, 200);
    for (const replica of replicas) {
      const owed = await askResolve(replica.url, "/admin/", { cookie: second });
      assert.equal(owed.headers.get("x-gatehouse-error"), "mfa_required");
    }
    const proven = await fetch(
      `${a.url}/auth/mfa/verify`,
      postJson({ kind: "totp", code: totpCodeAt(started.secret, Date.now()) }, second),
    );
    assert.equal(proven.status, 200, await proven.clone().text());
    // Replica B hears of it by Redis's message, as of a sign-out: within 100 ms (scale/replicas).
    const provenAt = Date.now();
    let answer = await askResolve(b.url, "/admin/", { cookie: second });
    while (answer.status !== 200 && Date.now() - provenAt < 1_000)
      answer = await askResolve(b.url, "/admin/", { cookie: second });
    assert.equal(answer.status, 200, "replica B sees the factor");
    assert.ok(Date.now() - provenAt <= 100, `replica B took ${Date.now() - provenAt} ms`);
    assert.equal(answer.headers.get("x-auth-amr"), "pwd,otp,mfa");
  });
});
