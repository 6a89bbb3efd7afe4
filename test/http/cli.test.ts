// The operator CLI as a separate process against the same PostgreSQL as a
// running gatehouse: roles, API keys, and signing-key rotation, checked
// through /_resolve and through the published JWKS alone.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { createPostgresDatabase } from "../helpers/backends.ts";
import {
  askResolve,
  bodyOf,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";

const run = promisify(execFile);

async function cli(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", ...args],
      {
        env: { ...process.env, LOG_LEVEL: "silent", ...env },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("the operator CLI", () => {
  let url: string;
  let database: DatabaseHandle;
  let gatehouse: RunningGatehouse;
  const env = () => ({ DATABASE_URL: url });

  before(async () => {
    url = await createPostgresDatabase();
    database = await openDatabase({ kind: "postgres", url });
    gatehouse = await startGatehouse(database, { DATABASE_URL: url });
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
    // Another process revoked it: this replica's cache lets it live at most SESSION_CACHE_TTL.
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    assert.equal(
      (await askResolve(gatehouse.url, "/x", { authorization: `Bearer ${key}` })).status,
      401,
    );
  });

  test("bad usage is exit code 2 with a message, never a stack trace", async () => {
    const cases = [
      ["users", "set-roles", "--email", "nobody@example.test", "x"],
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
      const refused = await cli({ DATA_DIR: dataDir, DATABASE_URL: "" }, "keys", "list");
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /in use by process \d+/);
    } finally {
      await holder.close();
    }
    const allowed = await cli({ DATA_DIR: dataDir, DATABASE_URL: "" }, "keys", "list");
    assert.equal(allowed.code, 0, allowed.stderr);
  });
});
