// The operator's recovery procedure: `factors list` shows what a user has set
// up, `factors reset` removes it all (audited, the user told by mail), after
// which a password signs in without a second step, and a half sign-in that
// was waiting for the old factor is gone. Against a running gatehouse on the
// same PostgreSQL, with the commands in this process (as in cli.test.ts).
// `factors remove` takes one factor away (a lost phone's passkey) and leaves
// the rest.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { auditEvents, recoveryCodes, users, webauthnCredentials } from "../../src/db/schema.ts";
import { totpCodeAt } from "../../src/mfa/totp.ts";
import { createPostgresDatabase } from "../helpers/backends.ts";
import { cli } from "../helpers/cli.ts";
import {
  bodyOf,
  login,
  type RunningGatehouse,
  register,
  sessionCookie,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postJson } from "../helpers/http.ts";

describe("the operator resets second factors", () => {
  let url: string;
  let database: DatabaseHandle;
  let gatehouse: RunningGatehouse;

  before(async () => {
    url = await createPostgresDatabase();
    database = await openDatabase({ kind: "postgres", url });
    gatehouse = await startGatehouse(database, { DATABASE_URL: url, SESSION_CACHE_TTL: "1s" });
  });
  after(async () => {
    await gatehouse?.stop();
    await database?.close();
  });

  test("factors list and factors reset", async () => {
    const email = uniqueEmail();
    const cookie = await register(gatehouse.url, email);
    const outbox = mkdtempSync(join(tmpdir(), "gatehouse-cli-outbox-"));
    const env = { DATABASE_URL: url, OUTBOX_DIR: outbox };
    const none = await cli(env, "factors", "list", "--email", email);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /authenticator app: none; recovery codes left: 0/);

    const { secret } = await bodyOf(
      await fetch(`${gatehouse.url}/auth/mfa/totp`, postJson({}, cookie)),
    );
    const confirmed = await fetch(
      `${gatehouse.url}/auth/mfa/totp/confirm`,
      postJson({ code: totpCodeAt(secret, Date.now()) }, cookie),
    );
    assert.equal(confirmed.status, 200);
    const listed = await cli(env, "factors", "list", "--email", email);
    assert.match(listed.stdout, /authenticator app: set up \d{4}-.*recovery codes left: 10/);

    // Half signed in, waiting for the app the user lost.
    const half = await login(gatehouse.url, email);
    assert.equal((await bodyOf(half)).status, "mfa_required");
    const halfCookie = (half.headers.getSetCookie()[0] ?? "").split(";")[0] ?? "";

    const reset = await cli(env, "factors", "reset", "--email", email);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /authenticator app removed, 10 recovery codes removed/);
    assert.match((await cli(env, "factors", "list", "--email", email)).stdout, /none/);

    // The waiting half sign-in went with it; a password alone signs in now.
    const stale = await fetch(`${gatehouse.url}/auth/mfa/verify`, {
      ...postJson({ kind: "totp", code: totpCodeAt(secret, Date.now() + 30_000) }),
      headers: { "content-type": "application/json", cookie: halfCookie },
    });
    assert.equal(stale.status, 401);
    assert.ok(sessionCookie(await login(gatehouse.url, email)));

    const [user] = await database.db.select().from(users).where(eq(users.email, email));
    const types = (
      await database.db
        .select({ type: auditEvents.type })
        .from(auditEvents)
        .where(eq(auditEvents.userId, user?.id ?? ""))
    ).map((row) => row.type);
    assert.ok(types.includes("mfa.reset"), types.join(", "));

    // The user is told, by mail, what the operator did.
    const notices = readdirSync(outbox)
      .filter((name) => name.includes("second-factor-changed"))
      .map((name) => readFileSync(join(outbox, name), "utf8"))
      .filter((text) => text.includes(email) && text.includes("an operator reset"));
    assert.equal(notices.length, 1);

    const unknown = await cli(env, "factors", "reset", "--email", "nobody@example.test");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no user with the address/);
  });

  test("factors remove: one passkey, then the app (the recovery codes go with the last factor)", async () => {
    const email = uniqueEmail("remove-one");
    const cookie = await register(gatehouse.url, email);
    const outbox = mkdtempSync(join(tmpdir(), "gatehouse-cli-outbox-"));
    const env = { DATABASE_URL: url, OUTBOX_DIR: outbox };
    const { secret } = await bodyOf(
      await fetch(`${gatehouse.url}/auth/mfa/totp`, postJson({}, cookie)),
    );
    await fetch(
      `${gatehouse.url}/auth/mfa/totp/confirm`,
      postJson({ code: totpCodeAt(secret, Date.now()) }, cookie),
    );
    const [user] = await database.db.select().from(users).where(eq(users.email, email));
    const userId = user?.id as string;
    // A passkey as the browser would have stored it (this server has passkeys off).
    const passkeyId = crypto.randomUUID();
    await database.db.insert(webauthnCredentials).values({
      id: passkeyId,
      userId,
      credentialId: `cred-${passkeyId}`,
      publicKey: "AAAA",
      counter: 0,
      transports: [],
      deviceType: "singleDevice",
      backedUp: false,
      name: "Lost phone",
    });
    const listed = await cli(env, "factors", "list", "--email", email);
    assert.match(listed.stdout, new RegExp(`passkey:${passkeyId} {2}Lost phone`));

    for (const bad of ["phone", "passkey:nope", `passkey:${crypto.randomUUID()}`]) {
      const refused = await cli(env, "factors", "remove", "--email", email, bad);
      assert.equal(refused.code, 2, bad);
    }
    const removed = await cli(env, "factors", "remove", "--email", email, `passkey:${passkeyId}`);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed the passkey “Lost phone”/);
    const codesLeft = async () =>
      (await database.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, userId)))
        .length;
    assert.equal(await codesLeft(), 10, "the app is left, so are its codes");
    const app = await cli(env, "factors", "remove", "--email", email, "totp");
    assert.equal(app.code, 0, app.stderr);
    assert.equal(await codesLeft(), 0, "no factor left: the codes went too");
    assert.ok(sessionCookie(await login(gatehouse.url, email)), "a password alone signs in");

    const events = await database.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.userId, userId));
    const removals = events
      .filter((event) => event.type === "mfa.removed")
      .sort((a, b) => a.id - b.id);
    assert.deepEqual(
      removals.map((event) => [event.actorId, event.detail.kind]),
      [
        ["cli", "passkey"],
        ["cli", "totp"],
      ],
    );
    const notices = readdirSync(outbox)
      // Quoted-printable: soft line breaks joined.
      .map((name) => readFileSync(join(outbox, name), "utf8").replace(/=\r?\n/g, ""))
      .filter((text) => text.includes(email) && text.includes("an administrator removed"));
    console.log(
      "NOTICES",
      readdirSync(outbox)
        .map((name) => readFileSync(join(outbox, name), "utf8").replace(/=\r?\n/g, ""))
        .join("\n=====\n"),
    );
    assert.equal(notices.length, 2);
  });
});
