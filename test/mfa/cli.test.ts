// The operator's recovery procedure: `factors list` shows what a user has set
// up, `factors reset` removes it all (audited, the user told by mail), after
// which a password signs in without a second step, and a half sign-in that
// was waiting for the old factor is gone. Against a running gatehouse on the
// same PostgreSQL, with the commands in this process (as in cli.test.ts).
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { auditEvents, users } from "../../src/db/schema.ts";
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
});
