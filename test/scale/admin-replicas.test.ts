// The console's disable reaches every replica at once: two gatehouses share
// PostgreSQL and Redis, each keeps sessions and API keys in memory for 60 s,
// so only the revocation message can end what replica B holds when an admin
// disables the account on replica A. Roles set on A show on B at once too.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { createLogger } from "../../src/logger.ts";
import { connectRedis, type SharedRedis } from "../../src/redis/client.ts";
import { createPostgresDatabase } from "../helpers/backends.ts";
import {
  askResolve,
  bodyOf,
  login,
  markVerified,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postJson } from "../helpers/http.ts";
import { startRedis } from "../helpers/redis-server.ts";

describe("an admin's disable on one replica, seen by the other at once", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const databases: DatabaseHandle[] = [];
  const shared: SharedRedis[] = [];
  const replicas: RunningGatehouse[] = [];

  before(async () => {
    redis = await startRedis();
    const url = await createPostgresDatabase();
    for (let i = 0; i < 2; i++) {
      const database = await openDatabase({ kind: "postgres", url });
      const client = connectRedis(
        loadConfig({ REDIS_URL: redis.url }),
        createLogger("silent"),
      ) as SharedRedis;
      databases.push(database);
      shared.push(client);
      replicas.push(
        await startGatehouse(
          database,
          { DATABASE_URL: url, REDIS_URL: redis.url, SESSION_CACHE_TTL: "60s" },
          { redis: client },
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 300)); // both subscribed
  });
  after(async () => {
    for (const replica of replicas) await replica.stop();
    for (const client of shared) await client.close();
    for (const database of databases) await database.close();
    await redis?.stop();
  });

  test("sessions and API keys cached on B stop at once; roles change at once", async () => {
    const [a, b] = replicas as [RunningGatehouse, RunningGatehouse];
    const bossEmail = uniqueEmail("admin");
    await register(a.url, bossEmail);
    const bossId = (await a.gatehouse.directory.idByEmail(bossEmail)) as string;
    await a.gatehouse.users.setRoles(bossId, ["admin"]);
    const boss = (await login(a.url, bossEmail)).headers.getSetCookie()[0]?.split(";")[0] as string;

    const email = uniqueEmail("leaver");
    const cookie = await register(b.url, email);
    await markVerified(b, email);
    const { key } = await bodyOf(
      await fetch(`${b.url}/auth/api-keys`, postJson({ name: "k" }, cookie)),
    );
    const id = (await b.gatehouse.directory.idByEmail(email)) as string;
    // B has both in memory now.
    assert.equal((await askResolve(b.url, "/x", { cookie })).status, 200);
    assert.equal((await askResolve(b.url, "/x", { authorization: `Bearer ${key}` })).status, 200);

    const roles = await fetch(
      `${a.url}/auth/admin/users/${id}/roles`,
      postJson({ roles: ["ops"] }, boss),
    );
    assert.equal(roles.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await askResolve(b.url, "/x", { cookie })).headers.get("x-auth-roles"), "ops");

    const disabled = await fetch(`${a.url}/auth/admin/users/${id}/disable`, postJson({}, boss));
    assert.equal(disabled.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await askResolve(b.url, "/x", { cookie })).status, 401);
    assert.equal((await askResolve(b.url, "/x", { authorization: `Bearer ${key}` })).status, 401);
    const refused = await login(b.url, email);
    assert.equal(refused.status, 403);
    assert.match((await bodyOf(refused)).error.message, /disabled/);
  });
});
