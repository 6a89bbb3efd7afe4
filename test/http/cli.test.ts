// The operator CLI against the same PostgreSQL as a running gatehouse: roles,
// API keys, disabling accounts and signing-key rotation, checked through
// /_resolve and through the published JWKS alone. The commands run in this
// process, with services of their own (as a separate process has): a
// replica learns of what they revoke only through Redis or its cache's TTL.
// The embedded database's one-process rule, and the exit code of the command
// line itself, need a process of their own.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { createLogger } from "../../src/logger.ts";
import { connectRedis, type SharedRedis } from "../../src/redis/client.ts";
import { createPostgresDatabase } from "../helpers/backends.ts";
import { cli, cliProcess } from "../helpers/cli.ts";
import {
  askResolve,
  bodyOf,
  login,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { startRedis } from "../helpers/redis-server.ts";

describe("the operator CLI", () => {
  let url: string;
  let database: DatabaseHandle;
  let gatehouse: RunningGatehouse;
  const env = () => ({ DATABASE_URL: url });

  before(async () => {
    url = await createPostgresDatabase();
    database = await openDatabase({ kind: "postgres", url });
    // A short cache: what the commands revoke reaches this replica within it.
    gatehouse = await startGatehouse(database, { DATABASE_URL: url, SESSION_CACHE_TTL: "1s" });
  });
  after(async () => {
    await gatehouse?.stop();
    await database?.close();
  });

  test("sets roles, and creates, lists and revokes API keys for a user", async () => {
    const email = uniqueEmail();
    await register(gatehouse.url, email);
    const roles = await cli(
      env(),
      "users",
      "set-roles",
      "--email",
      email.toUpperCase(),
      "admin,ops",
    );
    assert.equal(roles.code, 0, roles.stderr);

    const created = await cli(
      env(),
      "api-keys",
      "create",
      "--email",
      email,
      "--name",
      "cron",
      "--expires-in-days",
      "7",
    );
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.split("\n")[0] ?? "";
    const resolved = await askResolve(gatehouse.url, "/x", { authorization: `Bearer ${key}` });
    assert.equal(resolved.status, 200);
    assert.equal(resolved.headers.get("x-auth-roles"), "admin,ops");

    const listed = await cli(env(), "api-keys", "list", "--email", email);
    assert.ok(!listed.stdout.includes(key), "the list never shows the key");
    const id = listed.stdout.split(/\s+/)[0] ?? "";
    const revoked = await cli(env(), "api-keys", "revoke", "--email", email, id);
    assert.equal(revoked.code, 0, revoked.stderr);
    // Revoked elsewhere: this replica's cache lets it live at most SESSION_CACHE_TTL.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal(
      (await askResolve(gatehouse.url, "/x", { authorization: `Bearer ${key}` })).status,
      401,
    );
  });

  /** Resolves until the status is `status`, for at most `ms`; returns how long it took. */
  async function until(status: number, ms: number, ask: () => Promise<Response>) {
    const start = Date.now();
    for (;;) {
      const answer = (await ask()).status;
      if (answer === status) return Date.now() - start;
      if (Date.now() - start > ms) throw new Error(`still ${answer} after ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function createKey(email: string, extraEnv: Record<string, string> = {}) {
    const created = await cli(
      { ...env(), ...extraEnv },
      "api-keys",
      "create",
      "--email",
      email,
      "--name",
      "k",
    );
    assert.equal(created.code, 0, created.stderr);
    return created.stdout.split("\n")[0] ?? "";
  }

  test("users disable: its sessions and keys stop resolving and it cannot sign in; enable lets it sign in again", async () => {
    const email = uniqueEmail("disabled");
    const cookie = await register(gatehouse.url, email);
    const key = await createKey(email);
    const bySession = () => askResolve(gatehouse.url, "/x", { cookie });
    const byKey = () => askResolve(gatehouse.url, "/x", { authorization: `Bearer ${key}` });
    assert.equal((await bySession()).status, 200);
    assert.equal((await byKey()).status, 200);

    const disabled = await cli(env(), "users", "disable", "--email", email);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.match(disabled.stdout, /1 session revoked/);
    // Revoked elsewhere, no Redis: this replica's memory lets them live at most SESSION_CACHE_TTL (1 s).
    await until(401, 6_000, bySession);
    await until(401, 6_000, byKey);
    const refused = await login(gatehouse.url, email);
    assert.equal(refused.status, 403);
    assert.equal((await bodyOf(refused)).error.code, "account_disabled");

    const enabled = await cli(env(), "users", "enable", "--email", email);
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.equal((await login(gatehouse.url, email)).status, 200);
    await until(200, 6_000, byKey);
    assert.equal((await bySession()).status, 401, "no revoked session comes back");
  });

  test("with Redis, what the CLI disables or revokes stops resolving on the running replica at once", async () => {
    const redis = await startRedis();
    const config = loadConfig({ REDIS_URL: redis.url });
    const shared = connectRedis(config, createLogger("silent")) as SharedRedis;
    // Long caches: only the revocation message can end what they hold.
    const replica = await startGatehouse(
      database,
      { DATABASE_URL: url, SESSION_CACHE_TTL: "60s", REDIS_URL: redis.url },
      { redis: shared },
    );
    try {
      const withRedis = { REDIS_URL: redis.url };
      const email = uniqueEmail("disabled-redis");
      const cookie = await register(replica.url, email);
      const key = await createKey(email, withRedis);
      const other = uniqueEmail("revoked-redis");
      await register(replica.url, other);
      const otherKey = await createKey(other, withRedis);
      const ask = (headers: Record<string, string>) => () => askResolve(replica.url, "/x", headers);
      for (const headers of <Record<string, string>[]>[
        { cookie },
        { authorization: `Bearer ${key}` },
        { authorization: `Bearer ${otherKey}` },
      ])
        assert.equal((await ask(headers)()).status, 200);

      const disabled = await cli({ ...env(), ...withRedis }, "users", "disable", "--email", email);
      assert.equal(disabled.code, 0, disabled.stderr);
      assert.ok((await until(401, 1_000, ask({ cookie }))) < 1_000);
      await until(401, 1_000, ask({ authorization: `Bearer ${key}` }));

      const listed = await cli({ ...env(), ...withRedis }, "api-keys", "list", "--email", other);
      const id = listed.stdout.split(/\s+/)[0] ?? "";
      const revoked = await cli(
        { ...env(), ...withRedis },
        "api-keys",
        "revoke",
        "--email",
        other,
        id,
      );
      assert.equal(revoked.code, 0, revoked.stderr);
      await until(401, 1_000, ask({ authorization: `Bearer ${otherKey}` }));
    } finally {
      await replica.stop();
      await shared.close();
      await redis.stop();
    }
  });

  test("bad usage is exit code 2 with a message, never a stack trace", async () => {
    const cases = [
      ["users", "set-roles", "--email", "nobody@example.test", "x"],
      ["users", "disable", "--email", "nobody@example.test"],
      ["users", "enable"],
      ["api-keys", "create", "--email", "nobody@example.test", "--name", "x"],
      ["api-keys", "revoke", "--email", "nobody@example.test"],
      ["nonsense"],
      ["keys", "--unknown-flag"],
    ];
    for (const args of cases) {
      const result = await cli(env(), ...args);
      assert.equal(result.code, 2, args.join(" "));
      assert.ok(
        result.stderr.trim().length > 0 && !result.stderr.includes("    at "),
        result.stderr,
      );
    }
    const badConfig = await cli({ DATABASE_URL: "mysql://x" }, "keys", "list");
    assert.equal(badConfig.code, 2);
    assert.match(badConfig.stderr, /DATABASE_URL/);
    // The command line itself: the exit code and the message, never a stack trace.
    const usage = await cliProcess(env(), "users", "enable");
    assert.equal(usage.code, 2);
    assert.ok(usage.stderr.trim().length > 0 && !usage.stderr.includes("    at "), usage.stderr);
  });

  test("key rotation: the new key signs, the old stays published, old assertions still verify", async () => {
    const cookie = await register(gatehouse.url, uniqueEmail());
    const jwks = async () =>
      (await bodyOf(await fetch(`${gatehouse.url}/.well-known/jwks.json`))) as JSONWebKeySet;
    const assertion = async () =>
      (await askResolve(gatehouse.url, "/x", { cookie })).headers.get("x-auth-jwt") ?? "";
    const verify = async (jwt: string) =>
      jwtVerify(jwt, createLocalJWKSet(await jwks()), {
        issuer: gatehouse.url,
        audience: "app.example.test",
        algorithms: ["EdDSA"],
      });
    const before = await assertion();
    const oldKid = decodeProtectedHeader(before).kid;

    const rotated = await cli(env(), "keys", "rotate");
    assert.equal(rotated.code, 0, rotated.stderr);
    await gatehouse.gatehouse.reloadKeys(); // what the 30 s timer does
    const after = await assertion();
    const newKid = decodeProtectedHeader(after).kid;
    assert.notEqual(newKid, oldKid, "the new key signs");
    const published = (await jwks()).keys.map((key) => key.kid);
    assert.ok(published.includes(oldKid) && published.includes(newKid), "both published");
    await verify(before);
    await verify(after);
    const listed = await cli(env(), "keys", "list");
    assert.match(listed.stdout, new RegExp(`${newKid}\\s+\\(signing\\)`));
  });

  test("with the embedded database, a second process is refused while one holds the data directory", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "gatehouse-data-"));
    const holder = await openDatabase({ kind: "pglite", dataDir });
    try {
      const refused = await cliProcess({ DATA_DIR: dataDir, DATABASE_URL: "" }, "keys", "list");
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /in use by process \d+/);
    } finally {
      await holder.close();
    }
    const allowed = await cli({ DATA_DIR: dataDir, DATABASE_URL: "" }, "keys", "list");
    assert.equal(allowed.code, 0, allowed.stderr);
  });
});
