// Bug classes from peers' advisories that must stay closed (issue 12), on the
// account side: a login limit checked before it counts, a deactivated user or
// a deleted session that still resolves, and addresses with more than one
// `@`. (API-key changes without a recent sign-in: test/email/squatted-address.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { and, count, eq } from "drizzle-orm";
import { auditEvents, users } from "../../src/db/schema.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import {
  askResolve,
  bodyOf,
  GOOD_PASSWORD,
  login,
  register,
  sessionCookie,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postJson as json } from "../helpers/http.ts";

const NEW_PASSWORD = "yet another uncommon passphrase 5";

describeOnEachBackend("account bug classes", { LOGIN_MAX_FAILURES_PER_IP: "1000" }, (stack) => {
  const base = () => stack.server.url;
  const userIdOf = async (email: string) =>
    (await stack.database.db.select({ id: users.id }).from(users).where(eq(users.email, email)))[0]
      ?.id as string;

  test("the login limit counts before it checks: 9 wrong passwords, then 5 at once, and only one more is checked", async () => {
    const limited = await startGatehouse(stack.database, {
      LOGIN_MAX_FAILURES_PER_ACCOUNT: "10",
      LOGIN_MAX_FAILURES_PER_IP: "1000",
      PASSWORD_HASH_QUEUE: "50",
    });
    try {
      const email = uniqueEmail("burst");
      await register(limited.url, email);
      // A right password starts the count again, as before.
      for (let i = 0; i < 9; i++)
        assert.equal((await login(limited.url, email, "a wrong password")).status, 401);
      assert.equal((await login(limited.url, email)).status, 200);

      for (let i = 0; i < 9; i++)
        assert.equal((await login(limited.url, email, "a wrong password")).status, 401, `#${i}`);
      const burst = await Promise.all(
        Array.from({ length: 5 }, () => login(limited.url, email, "a wrong password")),
      );
      assert.deepEqual(
        burst.map((response) => response.status).sort(),
        [401, 429, 429, 429, 429],
        "the tenth guess is checked, the rest are refused unchecked",
      );
      for (const refused of burst.filter((response) => response.status === 429))
        assert.ok(Number(refused.headers.get("retry-after")) > 0);
      assert.equal((await login(limited.url, email)).status, 429, "even the right password waits");

      // Checked means verified and recorded: 9 + 9 + 1 failures, no more.
      const userId = await userIdOf(email);
      const failures = async () =>
        (
          await stack.database.db
            .select({ n: count() })
            .from(auditEvents)
            .where(and(eq(auditEvents.userId, userId), eq(auditEvents.type, "user.login_failed")))
        )[0]?.n;
      for (let i = 0; i < 50 && (await failures()) !== 19; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(await failures(), 19);
    } finally {
      await limited.stop();
    }
  });

  test("a deactivated user or a deleted session never resolves again, even from a warm cache", async () => {
    type Case = {
      name: string;
      /** Ends `victim` (a session cookie of the account); `other` is a second session of it. */
      end(account: { email: string; victim: string; other: string }): Promise<void>;
    };
    const sessionIdOf = async (cookie: string) =>
      (await bodyOf(await fetch(`${base()}/auth/sessions`, { headers: { cookie } }))).sessions.find(
        (session: { current: boolean }) => session.current,
      ).id as string;
    const cases: Case[] = [
      {
        name: "logout",
        async end({ victim }) {
          const out = await fetch(`${base()}/auth/logout`, json({}, victim));
          assert.equal(out.status, 200);
        },
      },
      {
        name: "session revoked from another session",
        async end({ victim, other }) {
          const id = await sessionIdOf(victim);
          const revoked = await fetch(`${base()}/auth/sessions/${id}`, {
            method: "DELETE",
            headers: { cookie: other },
          });
          assert.equal(revoked.status, 200);
        },
      },
      {
        name: "sign out every other session",
        async end({ other }) {
          const revoked = await fetch(`${base()}/auth/sessions/revoke-others`, json({}, other));
          assert.equal(revoked.status, 200);
        },
      },
      {
        name: "password changed, other sessions signed out",
        async end({ other }) {
          const changed = await fetch(
            `${base()}/auth/password`,
            json(
              { currentPassword: GOOD_PASSWORD, newPassword: NEW_PASSWORD, signOutOthers: true },
              other,
            ),
          );
          assert.equal(changed.status, 200);
        },
      },
      {
        name: "account disabled",
        async end({ email }) {
          const { found, signedOut } = await stack.server.gatehouse.users.disable(
            await userIdOf(email),
          );
          assert.ok(found);
          assert.equal(signedOut, 2);
        },
      },
    ];
    for (const { name, end } of cases) {
      const email = uniqueEmail("ended");
      const victim = await register(base(), email);
      const other = sessionCookie(await login(base(), email));
      // Warm: the session is in this replica's memory (SESSION_CACHE_TTL 5 s).
      assert.equal((await askResolve(base(), "/x", { cookie: victim })).status, 200, name);
      assert.equal((await askResolve(base(), "/x", { cookie: victim })).status, 200, name);
      await end({ email, victim, other });
      const after = await askResolve(base(), "/x", { cookie: victim });
      assert.equal(after.status, 401, name);
      assert.equal(after.headers.get("x-auth-user-id"), null, name);
    }
  });

  test("a disabled account's API key stops at once, its sign-ins are refused, and enabling brings back the key but no session", async () => {
    const email = uniqueEmail("disabled-key");
    const cookie = await register(base(), email);
    const userId = await userIdOf(email);
    const { key } = await stack.server.gatehouse.apiKeys.create({ userId, name: "ci" });
    const byKey = () => askResolve(base(), "/x", { authorization: `Bearer ${key}` });
    assert.equal((await byKey()).status, 200);
    assert.equal((await byKey()).status, 200, "warm in the key cache");

    await stack.server.gatehouse.users.disable(userId);
    assert.equal((await byKey()).status, 401);
    assert.equal((await askResolve(base(), "/x", { cookie })).status, 401);
    const refused = await login(base(), email);
    assert.equal(refused.status, 403);
    assert.equal((await bodyOf(refused)).error.code, "account_disabled");

    await stack.server.gatehouse.users.enable(userId);
    assert.equal((await byKey()).status, 200);
    assert.equal((await askResolve(base(), "/x", { cookie })).status, 401);
    assert.equal((await login(base(), email)).status, 200);
  });

  test("an address with more than one @ (or more than one address) is a 400, for every endpoint that takes one", async () => {
    const addresses: unknown[] = [
      "a@b@example.com",
      "a@@example.com",
      '"a@b"@example.com',
      "a@example.com@",
      "@a@example.com",
      "a@b.example@c.example",
      "ａ@ｂ＠example.com", // fullwidth ＠ becomes @ under NFKC
      "a@example.com, b@example.com",
      "a@example.com;b@example.com",
      "a@example.com b@example.com",
      "a@example.com\nb@example.com",
      ["a@example.com", "b@example.com"],
    ];
    const [before] = await stack.database.db.select({ n: count() }).from(users);
    for (const email of addresses) {
      for (const path of ["/auth/register", "/auth/login", "/auth/forgot-password"]) {
        const response = await fetch(`${base()}${path}`, json({ email, password: GOOD_PASSWORD }));
        assert.equal(response.status, 400, `${path} ${JSON.stringify(email)}`);
        const body = await bodyOf(response);
        assert.equal(body.error.code, "invalid_email", `${path} ${JSON.stringify(email)}`);
        assert.ok(body.error.message.length > 0);
      }
    }
    // The hosted form says so too, with the address kept in the field.
    const page = await fetch(`${base()}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email: "a@b@example.com", password: GOOD_PASSWORD }),
    });
    assert.equal(page.status, 400);
    assert.match(await page.text(), /role="alert"[^>]*>Enter a valid email address/);
    const [after] = await stack.database.db.select({ n: count() }).from(users);
    assert.equal(after?.n, before?.n, "no account was created");
  });
});
