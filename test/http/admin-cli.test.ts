// The operator CLI beside a running server on the embedded database: the
// server holds DATA_DIR, so the command line (its own process) sends the
// command over the admin channel and it runs in the server, whose caches
// see the change at once. And `users create`, `sign-out`, `delete` on
// PostgreSQL, audited with "cli" as the actor.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  adminChannelPath,
  commandServices,
  serveAdminChannel,
} from "../../src/cli/admin-channel.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { createPostgresDatabase } from "../helpers/backends.ts";
import { cliProcess, cli as runCli } from "../helpers/cli.ts";
import {
  askResolve,
  login,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";

describe("the CLI while the server holds the embedded database", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "gatehouse-channel-"));
  const env = { DATA_DIR: dataDir, DATABASE_URL: "" };
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  let channel: { close(): Promise<void> };

  before(async () => {
    database = await openDatabase({ kind: "pglite", dataDir });
    // A long cache: only the server's own services can make a change show at once.
    server = await startGatehouse(database, { SESSION_CACHE_TTL: "60s", DATA_DIR: dataDir });
    channel = await serveAdminChannel(
      adminChannelPath(dataDir),
      commandServices(server.gatehouse),
      () => {},
    );
  });
  after(async () => {
    await channel?.close();
    await server?.stop();
    await database?.close();
  });

  test("users create, set-roles and disable run in the server; its sessions stop at once", async () => {
    const email = uniqueEmail();
    const cookie = await register(server.url, email);
    const created = await cliProcess(
      env,
      "users",
      "create",
      "--email",
      "Boss@Example.test",
      "--role",
      "admin",
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /created boss@example\.test .* with roles admin/);
    const roles = await cliProcess(env, "users", "set-roles", "--email", email, "ops");
    assert.equal(roles.code, 0, roles.stderr);
    const resolved = await askResolve(server.url, "/x", { cookie });
    assert.equal(resolved.headers.get("x-auth-roles"), "ops", "at once, despite the 60 s cache");
    const disabled = await cliProcess(env, "users", "disable", "--email", email);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.match(disabled.stdout, /1 session revoked/);
    assert.equal((await askResolve(server.url, "/x", { cookie })).status, 401);
    assert.equal((await login(server.url, email)).status, 403);
    const exported = await cliProcess(env, "audit", "export", "--since", "1h", "--email", email);
    assert.equal(exported.code, 0, exported.stderr);
    const types = exported.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).type);
    assert.ok(
      types.includes("user.roles_changed") && types.includes("user.disabled"),
      types.join(),
    );
    const byCli = exported.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line))
      .find((event) => event.type === "user.disabled");
    assert.equal(byCli.actorId, "cli");
  });

  test("a failing command forwards its message and exit code 2; a malformed request is refused", async () => {
    const missing = await cliProcess(env, "users", "disable", "--email", "nobody@example.test");
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no user with the address/);
    const duplicate = await cliProcess(env, "users", "create", "--email", "boss@example.test");
    assert.equal(duplicate.code, 2);
    assert.match(duplicate.stderr, /already has an account/);
    const tricky = await cliProcess(env, "users", "create", "--email", "a@b@example.test");
    assert.equal(tricky.code, 2);
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(adminChannelPath(dataDir));
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk;
      });
      socket.on("close", () => resolve(text));
      socket.write('{"argv": "users delete --email boss@example.test"}\n');
    });
    assert.match(answer, /"code":2/);
    const still = await cliProcess(env, "api-keys", "list", "--email", "boss@example.test");
    assert.equal(still.code, 0, "boss is still there");
  });
});

describe("users create, sign-out and delete on PostgreSQL", () => {
  let url: string;
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  const cli = (...args: string[]) => runCli({ DATABASE_URL: url }, ...args);

  before(async () => {
    url = await createPostgresDatabase();
    database = await openDatabase({ kind: "postgres", url });
    server = await startGatehouse(database, { DATABASE_URL: url, SESSION_CACHE_TTL: "1s" });
  });
  after(async () => {
    await server?.stop();
    await database?.close();
  });

  test("create an admin, sign a user out, delete it; each audited as cli", async () => {
    const created = await cli(
      "users",
      "create",
      "--email",
      "ops@example.test",
      "--role",
      "admin",
      "--role",
      "ops",
    );
    assert.equal(created.code, 0, created.stderr);
    const [boss] = await server.gatehouse.directory
      .list({ q: "ops@example.test" })
      .then((r) => r.users);
    assert.deepEqual(boss?.roles, ["admin", "ops"]);
    assert.equal(boss?.emailVerified, true);
    const badRole = await cli(
      "users",
      "create",
      "--email",
      "x@example.test",
      "--role",
      "no spaces",
    );
    assert.equal(badRole.code, 2);
    const email = uniqueEmail();
    const cookie = await register(server.url, email);
    assert.equal((await cli("users", "sign-out", "--email", email)).code, 0);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await askResolve(server.url, "/x", { cookie })).status, 401);
    const id = await server.gatehouse.directory.idByEmail(email);
    assert.equal((await cli("users", "delete", "--email", email)).code, 0);
    assert.equal(await server.gatehouse.directory.idByEmail(email), null);
    const events = await server.gatehouse.audits.list({ userId: id as string, limit: 10 });
    const deleted = events.find((event) => event.type === "user.deleted");
    assert.equal(deleted?.actorId, "cli");
    assert.equal(deleted?.detail.email, email);
  });
});
