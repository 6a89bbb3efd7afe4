// The Auth.js user check against a real PostgreSQL of the app's own, started
// for this file so it can be stopped mid-run: users seeded through
// @auth/drizzle-adapter (tables from its documented schema) and through the
// pg adapter's documented schema (integer ids); answers kept in memory and
// in a real Redis shared by two replicas; a deleted or disabled user stops
// resolving once AUTHJS_USER_CACHE_TTL has passed; with the database down,
// kept answers serve until then and 503 follows, never a 200 without a check.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DrizzleAdapter } from "@auth/drizzle-adapter";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { createLogger } from "../../src/logger.ts";
import { connectRedis, type SharedRedis } from "../../src/redis/client.ts";
import { askResolve, bodyOf, startGatehouse } from "../helpers/gatehouse.ts";
import { type PostgresServer, startPostgres } from "../helpers/postgres-server.ts";
import { startRedis } from "../helpers/redis-server.ts";
import { advancingClock, mintV5, V5_COOKIE, V5_SECRET } from "./tokens.ts";

/** @auth/drizzle-adapter's default PostgreSQL tables, as its documented schema creates them. */
const DRIZZLE_ADAPTER_SCHEMA = `
create table "user" (
  "id" text primary key not null,
  "name" text,
  "email" text unique,
  "emailVerified" timestamp,
  "image" text
);
create table "account" (
  "userId" text not null references "user"("id") on delete cascade,
  "type" text not null,
  "provider" text not null,
  "providerAccountId" text not null,
  "refresh_token" text,
  "access_token" text,
  "expires_at" integer,
  "token_type" text,
  "scope" text,
  "id_token" text,
  "session_state" text,
  primary key ("provider", "providerAccountId")
);
create table "session" (
  "sessionToken" text primary key not null,
  "userId" text not null references "user"("id") on delete cascade,
  "expires" timestamp not null
);
create table "verificationToken" (
  "identifier" text not null,
  "token" text not null,
  "expires" timestamp not null,
  primary key ("identifier", "token")
);
-- The app's own addition: a flag the user check can be told about.
alter table "user" add column "banned" boolean not null default false;
`;

/** @auth/pg-adapter's documented schema: integer ids (SERIAL). */
const PG_ADAPTER_SCHEMA = `
create table verification_token (
  identifier text not null,
  expires timestamptz not null,
  token text not null,
  primary key (identifier, token)
);
create table accounts (
  id serial,
  "userId" integer not null,
  type varchar(255) not null,
  provider varchar(255) not null,
  "providerAccountId" varchar(255) not null,
  refresh_token text,
  access_token text,
  expires_at bigint,
  id_token text,
  scope text,
  session_state text,
  token_type text,
  primary key (id)
);
create table sessions (
  id serial,
  "userId" integer not null,
  expires timestamptz not null,
  "sessionToken" varchar(255) not null,
  primary key (id)
);
create table users (
  id serial,
  name varchar(255),
  email varchar(255),
  "emailVerified" timestamptz,
  image text,
  primary key (id)
);
`;

const TTL_SECONDS = 30;
const cookieFor = async (sub: string) => `${V5_COOKIE}=${await mintV5({ sub, name: "N" })}`;

async function metric(url: string, result: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`gatehouse_authjs_user_checks_total{result="${result}"}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

describe("the Auth.js user check", () => {
  let appDb: PostgresServer;
  let redisServer: Awaited<ReturnType<typeof startRedis>>;
  let drizzleUrl: string;
  let pgAdapterUrl: string;
  let bothUrl: string;
  let admin: postgres.Sql;
  let drizzleSql: postgres.Sql;
  let adapter: ReturnType<typeof DrizzleAdapter>;
  const databases: DatabaseHandle[] = [];
  const redises: SharedRedis[] = [];
  const logger = createLogger("silent");

  async function createDatabase(name: string, schema: string): Promise<string> {
    await admin.unsafe(`create database ${name}`);
    const url = new URL(appDb.url);
    url.pathname = `/${name}`;
    const sql = postgres(url.href, { max: 1, onnotice: () => {} });
    await sql.unsafe(schema);
    await sql.end();
    return url.href;
  }

  async function gatehouse(env: Record<string, string>, clock = advancingClock()) {
    const database = await openDatabase({ kind: "pglite" });
    databases.push(database);
    const redisUrl = env.REDIS_URL;
    let redis: SharedRedis | undefined;
    if (redisUrl) {
      const connected = connectRedis(
        loadConfig({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: "gh_authjs:" }),
        logger,
      );
      if (connected) {
        redis = connected;
        redises.push(connected);
        await new Promise<void>((resolve) => connected.onReady(resolve));
      }
    }
    const server = await startGatehouse(
      database,
      {
        AUTHJS_SECRET: V5_SECRET,
        AUTHJS_USER_CHECK: "true",
        AUTHJS_USER_CACHE_TTL: `${TTL_SECONDS}s`,
        RULES: "[{ path: /public/**, access: public }]",
        ...env,
      },
      { clock, ...(redis ? { redis } : {}) },
    );
    return {
      server,
      clock,
      ask: (cookie: string, uri = "/api/me") => askResolve(server.url, uri, { cookie }),
    };
  }

  before(async () => {
    [appDb, redisServer] = await Promise.all([startPostgres(), startRedis()]);
    admin = postgres(appDb.url, { max: 1, onnotice: () => {} });
    drizzleUrl = await createDatabase("nextapp", DRIZZLE_ADAPTER_SCHEMA);
    pgAdapterUrl = await createDatabase("pgapp", PG_ADAPTER_SCHEMA);
    bothUrl = await createDatabase(
      "bothapp",
      `${PG_ADAPTER_SCHEMA}\ncreate table "user" (id text primary key);`,
    );
    drizzleSql = postgres(drizzleUrl, { max: 2, onnotice: () => {} });
    adapter = DrizzleAdapter(drizzle(drizzleSql));
  });

  after(async () => {
    for (const redis of redises) await redis.close();
    for (const database of databases) await database.close();
    await drizzleSql?.end({ timeout: 1 });
    await admin?.end({ timeout: 1 });
    await appDb?.stop();
    await redisServer?.stop();
  });

  test("a user of the drizzle adapter resolves; deleted, it stops after the TTL", async () => {
    const user = await adapter.createUser?.({
      id: crypto.randomUUID(),
      email: "ann@example.com",
      emailVerified: null,
      name: "Ann",
    });
    assert.ok(user);
    const { server, clock, ask } = await gatehouse({ AUTHJS_DATABASE_URL: drizzleUrl });
    try {
      const cookie = await cookieFor(user.id);
      const first = await ask(cookie);
      assert.equal(first.status, 200, await first.text());
      assert.equal((await ask(cookie)).headers.get("x-auth-user-id"), user.id);
      assert.equal(await metric(server.url, "database"), 1, "asked once");
      assert.equal(await metric(server.url, "memory"), 1);
      // Requests racing for a user not yet checked share one question.
      const other = await adapter.createUser?.({
        id: crypto.randomUUID(),
        email: "ann2@example.com",
        emailVerified: null,
        name: "Ann",
      });
      const otherCookie = await cookieFor(other?.id ?? "");
      const raced = await Promise.all(Array.from({ length: 8 }, () => ask(otherCookie)));
      assert.ok(raced.every((response) => response.status === 200));
      assert.equal(await metric(server.url, "database"), 2);

      await adapter.deleteUser?.(user.id);
      clock.advance((TTL_SECONDS - 1) * 1000);
      assert.equal((await ask(cookie)).status, 200, "within the TTL the kept answer serves");
      clock.advance(1001);
      const gone = await ask(cookie);
      assert.equal(gone.status, 401);
      assert.match((await bodyOf(gone)).error.message, /no longer exists/);
      // A user that never existed: refused at once.
      assert.equal((await ask(await cookieFor(crypto.randomUUID()))).status, 401);
    } finally {
      await server.stop();
    }
  });

  test("a named disabled column refuses the user once the TTL has passed", async () => {
    const user = await adapter.createUser?.({
      id: crypto.randomUUID(),
      email: "bob@example.com",
      emailVerified: null,
      name: "Bob",
    });
    assert.ok(user);
    const { server, clock, ask } = await gatehouse({
      AUTHJS_DATABASE_URL: drizzleUrl,
      AUTHJS_USER_TABLE: "user",
      AUTHJS_USER_DISABLED_COLUMN: "banned",
    });
    try {
      const cookie = await cookieFor(user.id);
      assert.equal((await ask(cookie)).status, 200);
      await drizzleSql`update "user" set banned = true where id = ${user.id}`;
      clock.advance(TTL_SECONDS * 1000 + 1);
      const refused = await ask(cookie);
      assert.equal(refused.status, 401);
      assert.match((await bodyOf(refused)).error.message, /disabled/);
      await drizzleSql`update "user" set banned = false where id = ${user.id}`;
      clock.advance(TTL_SECONDS * 1000 + 1);
      assert.equal((await ask(cookie)).status, 200);
    } finally {
      await server.stop();
    }
  });

  test("the pg adapter's integer ids: found by number, and a non-numeric sub is no user (not a 503)", async () => {
    const sql = postgres(pgAdapterUrl, { max: 1, onnotice: () => {} });
    const [row] =
      await sql`insert into users (name, email, "emailVerified", image) values ('Cy', 'cy@example.com', null, null) returning id`;
    await sql.end();
    const { server, ask } = await gatehouse({ AUTHJS_DATABASE_URL: pgAdapterUrl });
    try {
      assert.equal((await ask(await cookieFor(String(row?.id)))).status, 200);
      assert.equal((await ask(await cookieFor("not-a-number"))).status, 401);
      assert.equal((await ask(await cookieFor("99999999999999999999"))).status, 401);
    } finally {
      await server.stop();
    }
  });

  test("a database with both users and user tables: 503 until AUTHJS_USER_TABLE says which", async () => {
    const { server, ask } = await gatehouse({ AUTHJS_DATABASE_URL: bothUrl });
    try {
      const response = await ask(await cookieFor("1"));
      assert.equal(response.status, 503);
    } finally {
      await server.stop();
    }
    const named = await gatehouse({ AUTHJS_DATABASE_URL: bothUrl, AUTHJS_USER_TABLE: "users" });
    try {
      assert.equal((await named.ask(await cookieFor("1"))).status, 401, "no such user in users");
    } finally {
      await named.server.stop();
    }
  });

  test("replicas share answers through Redis", async () => {
    const user = await adapter.createUser?.({
      id: crypto.randomUUID(),
      email: "dee@example.com",
      emailVerified: null,
      name: "Dee",
    });
    assert.ok(user);
    const clock = advancingClock();
    const env = { AUTHJS_DATABASE_URL: drizzleUrl, REDIS_URL: redisServer.url };
    const first = await gatehouse(env, clock);
    const second = await gatehouse(env, clock);
    try {
      const cookie = await cookieFor(user.id);
      assert.equal((await first.ask(cookie)).status, 200);
      assert.equal((await second.ask(cookie)).status, 200);
      assert.equal(await metric(second.server.url, "redis"), 1);
      assert.equal(await metric(second.server.url, "database"), 0);
      // Redis answers carry the first replica's deadline: no replica extends it.
      await adapter.deleteUser?.(user.id);
      clock.advance(TTL_SECONDS * 1000 + 1);
      assert.equal((await second.ask(cookie)).status, 401);
    } finally {
      await first.server.stop();
      await second.server.stop();
    }
  });

  test("the database stopped mid-run: kept answers serve until the TTL, then 503; back, it answers again", async () => {
    const user = await adapter.createUser?.({
      id: crypto.randomUUID(),
      email: "eve@example.com",
      emailVerified: null,
      name: "Eve",
    });
    assert.ok(user);
    const { server, clock, ask } = await gatehouse({ AUTHJS_DATABASE_URL: drizzleUrl });
    try {
      const cookie = await cookieFor(user.id);
      assert.equal((await ask(cookie)).status, 200);
      const ready = await bodyOf(await fetch(`${server.url}/readyz`));
      assert.equal(ready.authjsDatabase, "ok");

      appDb.pause();
      try {
        assert.equal((await ask(cookie)).status, 200, "the kept answer serves");
        const readyz = await fetch(`${server.url}/readyz`);
        assert.equal(readyz.status, 200, "gatehouse itself is ready");
        assert.equal((await bodyOf(readyz)).authjsDatabase, "unavailable");
        // A user not seen before cannot be checked.
        const unseen = await ask(await cookieFor(crypto.randomUUID()));
        assert.equal(unseen.status, 503);
        assert.equal(unseen.headers.get("retry-after"), "1");
        clock.advance(TTL_SECONDS * 1000 + 1);
        const expired = await ask(cookie);
        assert.equal(expired.status, 503, "never a 200 without the check");
        assert.equal(expired.headers.get("x-auth-user-id"), null);
        // A public rule serves anonymously, as for every store failure.
        const open = await ask(cookie, "/public/page");
        assert.equal(open.status, 200);
        assert.equal(open.headers.get("x-auth-anonymous"), "true");
        assert.ok((await metric(server.url, "unavailable")) >= 2);
      } finally {
        appDb.resume();
      }
      assert.equal((await ask(cookie)).status, 200);
    } finally {
      await server.stop();
    }
  });
});
