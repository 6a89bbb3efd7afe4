// The shared session cache against a real Redis: tombstones keep a logged-out
// session from coming back, deletions made during an outage are written when
// Redis returns, and a Sentinel configuration finds its master.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { connectRedis, type SharedRedis } from "../../src/redis/client.ts";
import { redisCachedSessionStore } from "../../src/sessions/redis-cache.ts";
import type { ResolvedSession, SessionStore } from "../../src/sessions/store.ts";
import { freePort } from "../helpers/ports.ts";
import { startProcess } from "../helpers/process.ts";
import { startRedis } from "../helpers/redis-server.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An SQL stand-in that always still has the session: a replica's read from just before the logout. */
function staleStore(resolved: ResolvedSession): SessionStore & { reads: number } {
  const store = {
    reads: 0,
    async create() {},
    async createIf() {
      return true;
    },
    async findWithUser() {
      store.reads++;
      return structuredClone(resolved);
    },
    async touch() {},
    async seen() {},
    async delete() {},
    async deleteForUser() {
      return [resolved.session.id];
    },
    async deleteSignIn() {
      return [resolved.session.id];
    },
    async listForUser() {
      return [];
    },
    async recordFactor() {
      return null;
    },
  };
  return store;
}

function session(id: string): ResolvedSession {
  const now = Date.now();
  return {
    session: {
      id,
      userId: "u1",
      method: "password",
      authenticatedAt: new Date(now),
      amr: ["pwd"],
      factorTimes: { pwd: now },
      idleExpiresAt: new Date(now + 3_600_000),
      expiresAt: new Date(now + 3_600_000),
      ip: null,
      userAgent: null,
      createdAt: new Date(now),
    },
    user: { id: "u1", email: "a@example.test", emailVerified: false, name: "", roles: [] },
  };
}

async function ready(shared: SharedRedis) {
  for (let i = 0; i < 100 && !shared.isReady(); i++) await sleep(50);
  assert.ok(shared.isReady(), "connected");
}

describe("the Redis session cache", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let shared: SharedRedis;
  let direct: Redis;
  const options = { ttlSeconds: 60, now: () => Date.now(), onError: () => {} };

  before(async () => {
    redis = await startRedis();
    shared = connectRedis(
      loadConfig({ REDIS_URL: redis.url }),
      createLogger("silent"),
    ) as SharedRedis;
    direct = new Redis(redis.url);
    await ready(shared);
  });
  after(async () => {
    direct?.disconnect();
    await shared?.close();
    await redis?.stop();
  });

  test("a session read once is served from Redis; after its deletion a stale read cannot put it back", async () => {
    const inner = staleStore(session("s1"));
    const store = redisCachedSessionStore(inner, shared, options);
    assert.ok(await store.findWithUser("s1"));
    await sleep(20);
    assert.ok(await store.findWithUser("s1"));
    assert.equal(inner.reads, 1, "the second read came from Redis");
    await store.delete("s1");
    assert.equal(await store.findWithUser("s1"), null, "the tombstone answers");
    assert.equal(inner.reads, 1);
    assert.equal(await direct.get("gatehouse:session:s1"), "deleted");
  });

  test("a user change evicts the cached copy, so the next read sees SQL's", async () => {
    const before = session("s3");
    const inner = staleStore(before);
    const store = redisCachedSessionStore(inner, shared, options);
    assert.equal((await store.findWithUser("s3"))?.user.emailVerified, false);
    await sleep(20);
    before.user.emailVerified = true; // verified in SQL
    assert.equal(
      (await store.findWithUser("s3"))?.user.emailVerified,
      false,
      "Redis still has the old copy",
    );
    await store.evict?.(["s3"]);
    assert.equal((await store.findWithUser("s3"))?.user.emailVerified, true);
    assert.notEqual(
      await direct.get("gatehouse:session:s3"),
      "deleted",
      "evicting is not deleting",
    );
  });

  test("a deletion during an outage is written when Redis is back", async () => {
    const inner = staleStore(session("s2"));
    const store = redisCachedSessionStore(inner, shared, options);
    assert.ok(await store.findWithUser("s2"));
    await sleep(20);
    assert.ok(await direct.get("gatehouse:session:s2"));
    await redis.kill();
    direct.disconnect();
    const started = Date.now();
    await store.delete("s2"); // SQL deletes; Redis is unreachable
    assert.ok(Date.now() - started < 500, "no waiting for Redis");
    assert.ok(await store.findWithUser("s2"), "SQL answers while Redis is down");
    await redis.restart();
    direct = new Redis(redis.url);
    // Without the deferred tombstone the key would simply be absent; a Redis
    // restored from a snapshot would even still hold the session.
    await ready(shared);
    for (let i = 0; i < 50 && (await direct.get("gatehouse:session:s2")) !== "deleted"; i++)
      await sleep(50);
    assert.equal(await direct.get("gatehouse:session:s2"), "deleted");
  });
});

describe("Redis through Sentinel", () => {
  let master: Awaited<ReturnType<typeof startRedis>>;
  let sentinel: { stop(): Promise<void> };
  let sentinelPort: number;

  before(async () => {
    master = await startRedis();
    sentinelPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "gatehouse-sentinel-"));
    const file = join(dir, "sentinel.conf");
    writeFileSync(
      file,
      `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\n`,
    );
    sentinel = await startProcess({
      command: "redis-server",
      args: [file, "--sentinel"],
      port: sentinelPort,
    });
  });
  after(async () => {
    await sentinel?.stop();
    await master?.stop();
  });

  test("REDIS_SENTINELS finds the master and the cache works through it", async () => {
    const config = loadConfig({
      REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`,
      REDIS_SENTINEL_NAME: "mymaster",
    });
    const shared = connectRedis(config, createLogger("silent")) as SharedRedis;
    const direct = new Redis(master.url);
    try {
      await ready(shared);
      const store = redisCachedSessionStore(staleStore(session("s3")), shared, {
        ttlSeconds: 60,
        now: () => Date.now(),
        onError: () => {},
      });
      await store.findWithUser("s3");
      await sleep(20);
      assert.ok(await direct.get("gatehouse:session:s3"), "written to the master");
    } finally {
      direct.disconnect();
      await shared.close();
    }
  });
});
