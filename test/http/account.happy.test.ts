// The account page and the sessions API: list, revoke one, sign out everywhere else.
import assert from "node:assert/strict";
import { test } from "node:test";
import { and, asc, eq, inArray } from "drizzle-orm";
import { auditEvents } from "../../src/db/schema.ts";
import { hashToken } from "../../src/sessions/tokens.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import {
  askResolve,
  bodyOf,
  login,
  register,
  sessionCookie,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";

describeOnEachBackend("account and sessions", {}, (stack) => {
  test("list, revoke one, and sign out every other session", async () => {
    const email = uniqueEmail();
    const first = await register(stack.server.url, email);
    const second = sessionCookie(await login(stack.server.url, email));
    const third = sessionCookie(await login(stack.server.url, email));
    const listed = await bodyOf(
      await fetch(`${stack.server.url}/auth/sessions`, { headers: { cookie: first } }),
    );
    assert.equal(listed.sessions.length, 3);
    assert.equal(listed.sessions.filter((s: { current: boolean }) => s.current).length, 1);

    const other = listed.sessions.find((s: { current: boolean }) => !s.current);
    const revoked = await fetch(`${stack.server.url}/auth/sessions/${other.id}`, {
      method: "DELETE",
      headers: { cookie: first },
    });
    assert.equal(revoked.status, 200);
    for (const cookie of [first, second, third]) {
      const expected = hashToken(cookie.split("=")[1] ?? "") === other.id ? 401 : 200;
      assert.equal((await askResolve(stack.server.url, "/", { cookie })).status, expected);
    }
    const remaining = await bodyOf(
      await fetch(`${stack.server.url}/auth/sessions`, { headers: { cookie: first } }),
    );
    assert.equal(remaining.sessions.length, 2);

    // Another user's session id is not found, and nothing happens to it.
    const stranger = await register(stack.server.url, uniqueEmail());
    const theirs = (
      await bodyOf(
        await fetch(`${stack.server.url}/auth/sessions`, { headers: { cookie: stranger } }),
      )
    ).sessions[0].id;
    assert.equal(
      (
        await fetch(`${stack.server.url}/auth/sessions/${theirs}`, {
          method: "DELETE",
          headers: { cookie: first },
        })
      ).status,
      404,
    );
    assert.equal(
      (await fetch(`${stack.server.url}/auth/userinfo`, { headers: { cookie: stranger } })).status,
      200,
    );

    const everywhere = await fetch(`${stack.server.url}/auth/sessions/revoke-others`, {
      method: "POST",
      headers: { cookie: first, accept: "application/json" },
    });
    assert.equal((await bodyOf(everywhere)).revoked, 1);
    for (const cookie of [second, third]) {
      assert.equal((await askResolve(stack.server.url, "/", { cookie })).status, 401);
    }
    assert.equal((await askResolve(stack.server.url, "/", { cookie: first })).status, 200);
  });

  test("revoking a session and signing out the others are audited, with who and from where", async () => {
    const email = uniqueEmail("audited");
    const first = await register(stack.server.url, email);
    sessionCookie(await login(stack.server.url, email));
    sessionCookie(await login(stack.server.url, email));
    const userId = (
      await bodyOf(await fetch(`${stack.server.url}/auth/userinfo`, { headers: { cookie: first } }))
    ).id;
    const listed = (
      await bodyOf(await fetch(`${stack.server.url}/auth/sessions`, { headers: { cookie: first } }))
    ).sessions;
    const other = listed.find((s: { current: boolean }) => !s.current);
    // The account page's button: a form post that comes back to the page.
    const revoked = await fetch(`${stack.server.url}/auth/sessions/${other.id}/revoke`, {
      method: "POST",
      headers: { cookie: first },
      redirect: "manual",
    });
    assert.equal(revoked.status, 303);
    // Another user's session: refused, and nothing is written.
    const stranger = await register(stack.server.url, uniqueEmail("stranger"));
    const theirs = (
      await bodyOf(
        await fetch(`${stack.server.url}/auth/sessions`, { headers: { cookie: stranger } }),
      )
    ).sessions[0].id;
    const refused = await fetch(`${stack.server.url}/auth/sessions/${theirs}`, {
      method: "DELETE",
      headers: { cookie: first },
    });
    assert.equal(refused.status, 404);
    const everywhere = await fetch(`${stack.server.url}/auth/sessions/revoke-others`, {
      method: "POST",
      headers: { cookie: first, accept: "application/json" },
    });
    assert.equal((await bodyOf(everywhere)).revoked, 1);

    const types = ["session.revoked", "sessions.revoked_all"];
    const written = () =>
      stack.database.db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.userId, userId), inArray(auditEvents.type, types)))
        .orderBy(asc(auditEvents.id));
    for (let i = 0; i < 50 && (await written()).length < 2; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const events = await written();
    assert.deepEqual(
      events.map((event) => [event.type, event.detail]),
      [
        ["session.revoked", { sessionId: other.id }],
        ["sessions.revoked_all", { count: 1 }],
      ],
    );
    for (const event of events) assert.equal(event.ip, "127.0.0.1");
    const aboutTheirs = await stack.database.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.type, "session.revoked"));
    assert.ok(!aboutTheirs.some((event) => event.detail.sessionId === theirs));
  });

  test("password sign-ins are counted by result in gatehouse_login_total", async () => {
    const counter = async (result: string) => {
      const text = await (await fetch(`${stack.server.url}/metrics`)).text();
      const line = text
        .split("\n")
        .find((l) => l.startsWith(`gatehouse_login_total{result="${result}"}`));
      return Number(line?.split(" ").at(-1) ?? 0);
    };
    const before = { success: await counter("success"), failure: await counter("failure") };
    const email = uniqueEmail("counted");
    await register(stack.server.url, email);
    assert.equal((await login(stack.server.url, email)).status, 200);
    assert.equal((await login(stack.server.url, email, "not the password at all")).status, 401);
    assert.equal((await login(stack.server.url, uniqueEmail("nobody"))).status, 401);
    assert.equal(await counter("success"), before.success + 1, "registration is not a sign-in");
    assert.equal(await counter("failure"), before.failure + 2);
  });

  test("the account page needs a session and shows it", async () => {
    const anonymous = await fetch(`${stack.server.url}/auth/account`, { redirect: "manual" });
    assert.equal(anonymous.status, 302);
    assert.match(anonymous.headers.get("location") ?? "", /\/auth\/login\?rd=/);
    const email = uniqueEmail();
    const cookie = await register(stack.server.url, email);
    const page = await fetch(`${stack.server.url}/auth/account`, { headers: { cookie } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.ok(html.includes(email));
    assert.match(html, /this browser/);
    assert.match(html, /action="\/auth\/logout"/);
  });

  test("every replica sharing the database signs with the same published key", async () => {
    const replica = await startGatehouse(stack.database);
    try {
      const a = await bodyOf(await fetch(`${stack.server.url}/.well-known/jwks.json`));
      const b = await bodyOf(await fetch(`${replica.url}/.well-known/jwks.json`));
      assert.equal(a.keys.length, 1);
      assert.deepEqual(a, b);
      assert.equal(a.keys[0].d, undefined, "no private part is published");
    } finally {
      await replica.stop();
    }
  });
});
