// Three gatehouse processes behind real nginx, sharing a real Redis and a real
// PostgreSQL, all started here: single sign-out, a Redis crash under load, a
// PostgreSQL outage, and SIGTERM under load. Bounded in time and count;
// loopback only. The replicas keep sessions in process for 1 s: long enough
// that single sign-out must come through pub/sub (test 1 allows 100 ms), short
// enough that the load keeps going to Redis (or, without it, to SQL).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import postgres from "postgres";
import { hashToken } from "../../src/sessions/tokens.ts";
import { startEchoApp } from "../helpers/echo-app.ts";
import { GOOD_PASSWORD, sessionCookie, uniqueEmail } from "../helpers/gatehouse.ts";
import { startNginx } from "../helpers/nginx.ts";
import { freePort } from "../helpers/ports.ts";
import { type PostgresServer, startPostgres } from "../helpers/postgres-server.ts";
import { type RunningProcess, startProcess } from "../helpers/process.ts";
import { startRedis } from "../helpers/redis-server.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Replica = { name: string; url: string; port: number; process: RunningProcess };

describe("three replicas sharing Redis and PostgreSQL", () => {
  let pg: PostgresServer;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let app: Awaited<ReturnType<typeof startEchoApp>>;
  let nginx: { url: string; stop(): Promise<void> };
  let base: string;
  const replicas: Replica[] = [];

  async function startReplica(name: string, port: number): Promise<Replica> {
    const process_ = await startProcess({
      command: process.execPath,
      args: ["--import", "tsx", "src/main.ts"],
      port,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: "127.0.0.1",
        PUBLIC_URL: base,
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        SESSION_CACHE_TTL: "1s",
        SHUTDOWN_DRAIN: "1s",
        LOG_LEVEL: "warn",
      },
    });
    return { name, url: `http://127.0.0.1:${port}`, port, process: process_ };
  }

  before(async () => {
    [pg, redis, app] = await Promise.all([startPostgres(), startRedis(), startEchoApp()]);
    const nginxPort = await freePort();
    base = `http://127.0.0.1:${nginxPort}`;
    const ports = [await freePort(), await freePort(), await freePort()];
    // One at a time: the first applies the migrations, the others find them done.
    for (const [i, port] of ports.entries())
      replicas.push(await startReplica(["A", "B", "C"][i] as string, port));
    nginx = await startNginx({
      gatehousePort: ports[0] as number,
      gatehousePorts: ports,
      appPort: app.port,
      port: nginxPort,
    });
  });

  after(async () => {
    await nginx?.stop();
    await Promise.all(replicas.map((replica) => replica.process.stop()));
    await app?.stop();
    await redis?.stop();
    await pg?.stop();
  });

  const replica = (name: string) => replicas.find((item) => item.name === name) as Replica;

  async function signUp(on = base): Promise<{ email: string; cookie: string }> {
    const email = uniqueEmail();
    const response = await fetch(`${on}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: base },
      body: JSON.stringify({ email, password: GOOD_PASSWORD }),
    });
    assert.equal(response.status, 201);
    return { email, cookie: sessionCookie(response) };
  }

  const resolveOn = (target: Replica, cookie: string) =>
    fetch(`${target.url}/_resolve`, {
      headers: {
        cookie,
        "x-original-uri": "/page",
        "x-original-method": "GET",
        "x-forwarded-host": "app.example.test",
        accept: "application/json",
      },
    });

  /** Requests through nginx for `ms`, alternating valid and invalid cookies; returns every status seen. */
  async function load(ms: number, valid: string[], invalid: string[]) {
    const seen = { valid: new Map<number, number>(), invalid: new Map<number, number>() };
    const deadline = Date.now() + ms;
    const worker = async (w: number) => {
      for (let i = w; Date.now() < deadline; i++) {
        const good = i % 2 === 0;
        const list = good ? valid : invalid;
        const cookie = list[i % list.length] as string;
        const response = await fetch(`${base}/page`, {
          headers: { cookie, accept: "application/json" },
        });
        await response.arrayBuffer();
        const tally = good ? seen.valid : seen.invalid;
        tally.set(response.status, (tally.get(response.status) ?? 0) + 1);
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    return seen;
  }

  test("1. logout through replica A: B and C reject the old cookie within 100 ms", async () => {
    const { cookie } = await signUp(replica("A").url);
    for (const name of ["B", "C"])
      assert.equal((await resolveOn(replica(name), cookie)).status, 200);
    const out = await fetch(`${replica("A").url}/auth/logout`, {
      method: "POST",
      headers: { cookie, origin: base, accept: "application/json" },
    });
    assert.equal(out.status, 200);
    const loggedOut = Date.now();
    for (const name of ["B", "C"]) {
      let status = 200;
      while (status === 200 && Date.now() - loggedOut < 1_000) {
        status = (await resolveOn(replica(name), cookie)).status;
      }
      assert.equal(status, 401, name);
      assert.ok(Date.now() - loggedOut <= 100, `${name} took ${Date.now() - loggedOut} ms`);
    }
  });

  test("2. Redis killed under load: valid sessions keep 200, invalid never 200; Redis used again after restart", async () => {
    const valid = await Promise.all([signUp(), signUp(), signUp()]).then((list) =>
      list.map((item) => item.cookie),
    );
    const invalid = ["gatehouse_session=forged", `gatehouse_session=${"A".repeat(43)}`];
    const during = load(3_000, valid, invalid);
    await sleep(1_000);
    await redis.kill();
    const seen = await during;
    assert.deepEqual([...seen.valid.keys()], [200], JSON.stringify([...seen.valid]));
    assert.ok(!seen.invalid.has(200), JSON.stringify([...seen.invalid]));
    assert.ok((seen.valid.get(200) ?? 0) > 20, "the load really ran");

    await redis.restart();
    const client = new Redis(redis.url);
    try {
      // Each replica reconnects by itself; a fresh session read through B lands in Redis.
      const deadline = Date.now() + 5_000;
      let cached = 0;
      const { cookie } = await signUp(replica("A").url);
      const id = hashToken(cookie.split("=")[1] as string);
      while (cached === 0 && Date.now() < deadline) {
        assert.equal((await resolveOn(replica("B"), cookie)).status, 200);
        cached = await client.exists(`gatehouse:session:${id}`);
        if (cached === 0) await sleep(100);
      }
      assert.equal(cached, 1, "the session went through Redis again");
    } finally {
      client.disconnect();
    }
  });

  test("3. PostgreSQL stopped: cached sessions resolve, login is a quick 503, nothing is lost; 5. no cookie is cleared", async () => {
    const { email, cookie } = await signUp(replica("A").url);
    for (const target of replicas) assert.equal((await resolveOn(target, cookie)).status, 200);
    const countUsers = async () => {
      const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
      try {
        return Number((await sql`select count(*) as n from users`)[0]?.n);
      } finally {
        await sql.end();
      }
    };
    const usersBefore = await countUsers();

    pg.pause();
    try {
      for (const target of replicas)
        assert.equal((await resolveOn(target, cookie)).status, 200, `${target.name} from Redis`);
      const started = Date.now();
      const login = await fetch(`${replica("B").url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: base },
        body: JSON.stringify({ email, password: GOOD_PASSWORD }),
      });
      assert.equal(login.status, 503);
      assert.ok(Date.now() - started < 3_000, `login took ${Date.now() - started} ms`);
      // 5. Whatever fails, the user's cookie is never cleared.
      for (const path of ["/auth/userinfo", "/auth/account", "/auth/logout"]) {
        const response = await fetch(`${replica("C").url}${path}`, {
          method: path === "/auth/logout" ? "POST" : "GET",
          headers: { cookie, origin: base },
          redirect: "manual",
        });
        assert.ok(response.status >= 500 || response.status === 200, `${path}: ${response.status}`);
        const cleared = response.headers
          .getSetCookie()
          .some((line) => line.startsWith("gatehouse_session="));
        assert.ok(!cleared, `${path} cleared the cookie`);
      }
      assert.equal((await fetch(`${replica("A").url}/readyz`)).status, 503);
    } finally {
      pg.resume();
    }

    const deadline = Date.now() + 10_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = (
        await fetch(`${replica("B").url}/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json", origin: base },
          body: JSON.stringify({ email, password: GOOD_PASSWORD }),
        })
      ).status;
      if (status !== 200) await sleep(200);
    }
    assert.equal(status, 200, "the same credentials work after the outage");
    assert.equal(await countUsers(), usersBefore, "no user lost");
    assert.equal((await resolveOn(replica("C"), cookie)).status, 200, "the old session too");
  });

  test("4. SIGTERM to a replica under load: readiness fails first, no request is dropped, it exits in bounded time", async () => {
    const valid = [(await signUp()).cookie];
    const target = replica("C");
    const during = load(3_500, valid, ["gatehouse_session=forged"]);
    await sleep(800);
    const signalled = Date.now();
    target.process.signal("SIGTERM");
    // The signal is handled a moment later: poll until readiness answers something else than 200.
    let readiness = 200;
    while (readiness === 200 && Date.now() - signalled < 2_000) {
      readiness = await fetch(`${target.url}/readyz`).then(
        (response) => response.status,
        () => 0,
      );
      if (readiness === 200) await sleep(10);
    }
    assert.equal(readiness, 503, "draining: not ready, still answering");
    const seen = await during;
    assert.deepEqual([...seen.valid.keys()], [200], JSON.stringify([...seen.valid]));
    assert.ok(!seen.invalid.has(200));
    const code = await Promise.race([target.process.exited, sleep(10_000).then(() => "timeout")]);
    assert.equal(code, 0, "a clean exit");
    assert.ok(Date.now() - signalled < 10_000);
  });
});
