// The admin console under /auth/admin, on both databases. Authorization is
// generated from the route table: every admin route refuses a signed-out
// client (401, a browser's page navigation goes to the login page), a
// signed-in user without ADMIN_ROLE (403), a bearer API key even of an
// admin, and a cross-site post, and nothing changes; a new route cannot be
// forgotten. Then what an admin does: search and page through users, a
// user's page, each action (audited with the admin as actor, asking for
// confirmation on a page), the audit trail's filters, and bad input as 4xx.
import assert from "node:assert/strict";
import { test } from "node:test";
import { eq } from "drizzle-orm";
import { users } from "../../src/db/schema.ts";
import { totpCodeAt } from "../../src/mfa/totp.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import {
  askResolve,
  bodyOf,
  login,
  markVerified,
  register,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postForm, postJson } from "../helpers/http.ts";

const JSON_ACCEPT = { accept: "application/json" };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeOnEachBackend("admin console", { SESSION_CACHE_TTL: "60s" }, (stack) => {
  const base = () => stack.server.url;
  const idOf = async (email: string) => {
    const [row] = await stack.database.db
      .select({ id: users.id, disabledAt: users.disabledAt, roles: users.roles })
      .from(users)
      .where(eq(users.email, email));
    return row;
  };
  /** A signed-in admin: its cookie and id. */
  async function admin(): Promise<{ cookie: string; id: string; email: string }> {
    const email = uniqueEmail("admin");
    await register(base(), email);
    const id = (await idOf(email))?.id as string;
    await stack.server.gatehouse.users.setRoles(id, ["admin"]);
    const cookie = (await login(base(), email)).headers.getSetCookie()[0]?.split(";")[0] as string;
    return { cookie, id, email };
  }
  async function member(): Promise<{ cookie: string; id: string; email: string }> {
    const email = uniqueEmail("member");
    const cookie = await register(base(), email);
    return { cookie, id: (await idOf(email))?.id as string, email };
  }

  test("every admin route, from the route table, refuses the signed-out, non-admins, API keys and other sites", async () => {
    const routes = stack.server.gatehouse.app.routes
      .filter((route) => route.path.startsWith("/auth/admin") && route.method !== "ALL")
      .map((route) => ({ method: route.method, path: route.path }));
    const unique = [...new Map(routes.map((r) => [`${r.method} ${r.path}`, r])).values()];
    assert.ok(unique.length >= 10, `found ${unique.length} admin routes`);
    const boss = await admin();
    const someone = await member();
    const target = await member();
    await markVerified(stack.server, boss.email);
    const key = (await bodyOf(
      await fetch(`${base()}/auth/api-keys`, postJson({ name: "k" }, boss.cookie)),
    )) as { key: string };
    assert.ok(key.key, "the admin has an API key");
    for (const { method, path } of unique) {
      const url = `${base()}${path.replace(":id", target.id)}`;
      const body = method === "GET" ? undefined : "{}";
      const ask = (headers: Record<string, string>) =>
        fetch(url, {
          method,
          headers: { "content-type": "application/json", ...headers },
          body,
          redirect: "manual",
        });
      const label = `${method} ${path}`;
      const signedOut = await ask(JSON_ACCEPT);
      assert.equal(signedOut.status, 401, label);
      assert.equal((await bodyOf(signedOut)).error.code, "unauthenticated", label);
      if (method === "GET") {
        const page = await fetch(url, { headers: { accept: "text/html" }, redirect: "manual" });
        assert.equal(page.status, 302, label);
        assert.match(page.headers.get("location") ?? "", /^\/auth\/login\?rd=/, label);
      }
      const notAdmin = await ask({ ...JSON_ACCEPT, cookie: someone.cookie });
      assert.equal(notAdmin.status, 403, label);
      assert.equal((await bodyOf(notAdmin)).error.code, "forbidden", label);
      const bearer = await ask({ ...JSON_ACCEPT, authorization: `Bearer ${key.key}` });
      assert.equal(bearer.status, 401, `${label}: an API key is not a console session`);
      if (method !== "GET") {
        const crossSite = await ask({
          ...JSON_ACCEPT,
          cookie: boss.cookie,
          origin: "https://evil.example",
          "sec-fetch-site": "cross-site",
        });
        assert.equal(crossSite.status, 403, label);
        assert.equal((await bodyOf(crossSite)).error.code, "cross_site_request", label);
      }
    }
    // Nothing the refused requests asked for happened.
    const after = await idOf(target.email);
    assert.ok(after, "the target still exists");
    assert.equal(after.disabledAt, null);
    assert.deepEqual(after.roles, []);
    // The refusals of a signed-in non-admin are audited.
    await sleep(100);
    const denied = await stack.server.gatehouse.audits.list({
      userId: someone.id,
      type: "admin.denied",
      limit: 100,
    });
    assert.ok(denied.length >= unique.length, `${denied.length} denials audited`);
  });

  test("users: search by address or name prefix, filters, both sorts, keyset pages; a user's page", async () => {
    const boss = await admin();
    const tag = `zq${Math.random().toString(36).slice(2, 8)}`;
    const emails = Array.from({ length: 5 }, (_, i) => `${tag}.${i}@example.test`);
    for (const email of emails) await register(base(), email);
    await markVerified(stack.server, emails[0] as string);
    const list = async (query: string) => {
      const response = await fetch(`${base()}/auth/admin/users?${query}`, {
        headers: { ...JSON_ACCEPT, cookie: boss.cookie },
      });
      assert.equal(response.status, 200, await response.clone().text());
      return (await bodyOf(response)) as {
        users: { email: string; id: string }[];
        next: string | null;
      };
    };
    const byPrefix = await list(`q=${tag.toUpperCase()}&sort=email`);
    assert.deepEqual(
      byPrefix.users.map((u) => u.email),
      emails,
    );
    const verified = await list(`q=${tag}&verified=yes`);
    assert.deepEqual(
      verified.users.map((u) => u.email),
      [emails[0]],
    );
    // Pages of two, newest first, then by address: every user once.
    for (const sort of ["created", "email"]) {
      const seen: string[] = [];
      let cursor: string | null = "";
      while (cursor !== null) {
        const page = await list(
          `q=${tag}&limit=2&sort=${sort}${cursor ? `&cursor=${cursor}` : ""}`,
        );
        seen.push(...page.users.map((u) => u.email));
        cursor = page.next;
      }
      assert.deepEqual([...seen].sort(), emails, sort);
    }
    // A prefix with LIKE's wildcards matches them literally.
    assert.deepEqual((await list(`q=${encodeURIComponent("%")}`)).users, []);
    assert.deepEqual((await list(`q=${encodeURIComponent("_")}`)).users, []);
    const detail = await fetch(`${base()}/auth/admin/users/${byPrefix.users[0]?.id}`, {
      headers: { ...JSON_ACCEPT, cookie: boss.cookie },
    });
    const view = await bodyOf(detail);
    assert.equal(view.user.email, emails[0]);
    assert.equal(view.sessions.length, 1);
    assert.ok(view.events.some((event: { type: string }) => event.type === "user.registered"));
    const html = await (
      await fetch(`${base()}/auth/admin/users?q=${tag}`, { headers: { cookie: boss.cookie } })
    ).text();
    assert.match(html, new RegExp(emails[4] as string));
  });

  test("disable: sessions stop resolving at once, sign-in is refused with a message; enable; roles; sign-out; audited with the admin", async () => {
    const boss = await admin();
    const target = await member();
    const act = (action: string, body: unknown = {}) =>
      fetch(`${base()}/auth/admin/users/${target.id}/${action}`, postJson(body, boss.cookie));
    assert.equal((await askResolve(base(), "/x", { cookie: target.cookie })).status, 200);
    const disabled = await act("disable");
    assert.equal(disabled.status, 200);
    assert.equal((await bodyOf(disabled)).signedOut, 1);
    assert.equal((await askResolve(base(), "/x", { cookie: target.cookie })).status, 401);
    const refused = await login(base(), target.email);
    assert.equal(refused.status, 403);
    assert.match((await bodyOf(refused)).error.message, /disabled/);
    assert.equal((await act("enable")).status, 200);
    const again = await login(base(), target.email);
    assert.equal(again.status, 200);
    const cookie = again.headers.getSetCookie()[0]?.split(";")[0] as string;
    assert.equal((await act("roles", { roles: ["ops", "billing"] })).status, 200);
    const resolved = await askResolve(base(), "/x", { cookie });
    assert.equal(
      resolved.headers.get("x-auth-roles"),
      "ops,billing",
      "at once, despite the 60 s cache",
    );
    assert.equal((await act("roles", { roles: ["bad role!"] })).status, 400);
    assert.equal((await act("sign-out")).status, 200);
    assert.equal((await askResolve(base(), "/x", { cookie })).status, 401);
    await sleep(100);
    const events = await stack.server.gatehouse.audits.list({ userId: target.id, limit: 50 });
    for (const type of [
      "user.disabled",
      "user.enabled",
      "user.roles_changed",
      "sessions.revoked_all",
    ]) {
      const event = events.find((one) => one.type === type);
      assert.ok(event, type);
      assert.equal(event.actorId, boss.id, `${type} names the admin`);
      assert.equal(event.ip, "127.0.0.1");
    }
  });

  test("a page's action asks for confirmation first, without JavaScript; an admin cannot lock themselves out", async () => {
    const boss = await admin();
    const target = await member();
    const url = `${base()}/auth/admin/users/${target.id}/disable`;
    const asked = await fetch(url, postForm({}, boss.cookie));
    assert.equal(asked.status, 200);
    const page = await asked.text();
    assert.match(page, /name="confirm" value="yes"/);
    assert.equal((await idOf(target.email))?.disabledAt, null, "nothing happened yet");
    const done = await fetch(url, postForm({ confirm: "yes" }, boss.cookie));
    assert.equal(done.status, 303);
    assert.match(done.headers.get("location") ?? "", /\?done=disable$/);
    assert.notEqual((await idOf(target.email))?.disabledAt, null);
    const self = await fetch(
      `${base()}/auth/admin/users/${boss.id}/disable`,
      postForm({ confirm: "yes" }, boss.cookie),
    );
    assert.equal(self.status, 409);
    assert.match(await self.text(), /another administrator/);
    const demote = await fetch(
      `${base()}/auth/admin/users/${boss.id}/roles`,
      postJson({ roles: [] }, boss.cookie),
    );
    assert.equal(demote.status, 409);
    assert.deepEqual((await idOf(boss.email))?.roles, ["admin"]);
  });

  test("delete: the account and everything of it goes; its audit events keep its id", async () => {
    const boss = await admin();
    const target = await member();
    const response = await fetch(
      `${base()}/auth/admin/users/${target.id}/delete`,
      postJson({}, boss.cookie),
    );
    assert.equal(response.status, 200);
    assert.equal(await idOf(target.email), undefined);
    assert.equal((await askResolve(base(), "/x", { cookie: target.cookie })).status, 401);
    await sleep(100);
    const events = await fetch(`${base()}/auth/admin/audit?user=${target.id}&type=user.deleted`, {
      headers: { ...JSON_ACCEPT, cookie: boss.cookie },
    });
    const { events: list } = await bodyOf(events);
    assert.equal(list.length, 1);
    assert.equal(list[0].actorId, boss.id);
    assert.equal(list[0].detail.email, target.email);
    const gone = await fetch(`${base()}/auth/admin/users/${target.id}`, {
      headers: { ...JSON_ACCEPT, cookie: boss.cookie },
    });
    assert.equal(gone.status, 404);
  });

  test("bad input is a 4xx with a message, to pages and to JSON", async () => {
    const boss = await admin();
    const cases = [
      "/auth/admin/users?sort=password",
      "/auth/admin/users?limit=100000",
      "/auth/admin/users?verified=maybe",
      "/auth/admin/users?cursor=not-a-cursor",
      `/auth/admin/users?cursor=${Buffer.from('["x","y"]').toString("base64url")}`,
      `/auth/admin/users?q=${"a".repeat(300)}`,
      "/auth/admin/users?q=a%00b",
      "/auth/admin/users?role=%00",
      "/auth/admin/users?provider=x%01",
      `/auth/admin/users?sort=email&cursor=${Buffer.from('["a\\u0000"]').toString("base64url")}`,
      "/auth/admin/audit?user=%00",
      "/auth/admin/audit?type=user.pwned",
      "/auth/admin/audit?since=yesterday",
      "/auth/admin/audit?before=-1",
    ];
    for (const path of cases) {
      const json = await fetch(`${base()}${path}`, {
        headers: { ...JSON_ACCEPT, cookie: boss.cookie },
      });
      assert.equal(json.status, 400, path);
      assert.ok((await bodyOf(json)).error.message, path);
      const page = await fetch(`${base()}${path}`, { headers: { cookie: boss.cookie } });
      assert.equal(page.status, 400, path);
      assert.match(page.headers.get("content-type") ?? "", /text\/html/, path);
    }
    const missing = await fetch(`${base()}/auth/admin/users/nobody`, {
      headers: { ...JSON_ACCEPT, cookie: boss.cookie },
    });
    assert.equal(missing.status, 404);
    const missingAction = await fetch(
      `${base()}/auth/admin/users/nobody/disable`,
      postJson({}, boss.cookie),
    );
    assert.equal(missingAction.status, 404);
  });
});

describeOnEachBackend(
  "INITIAL_ADMIN_EMAIL",
  { INITIAL_ADMIN_EMAIL: " First.Admin@Example.TEST " },
  (stack) => {
    test("the first account proving the address becomes admin, once", async () => {
      const base = stack.server.url;
      const email = "first.admin@example.test";
      await register(base, email);
      // Not yet: the address is not proven.
      let [row] = await stack.database.db.select().from(users).where(eq(users.email, email));
      assert.deepEqual(row?.roles, []);
      await markVerified(stack.server, email);
      const signedIn = await login(base, email);
      assert.equal(signedIn.status, 200);
      for (let i = 0; i < 50 && !row?.roles.includes("admin"); i++) {
        await sleep(20);
        [row] = await stack.database.db.select().from(users).where(eq(users.email, email));
      }
      assert.deepEqual(row?.roles, ["admin"]);
      // Taken away, it is not granted again by the next sign-in.
      await stack.server.gatehouse.users.setRoles(row?.id as string, []);
      assert.equal((await login(base, email)).status, 200);
      await sleep(200);
      [row] = await stack.database.db.select().from(users).where(eq(users.email, email));
      assert.deepEqual(row?.roles, []);
    });
  },
);

describeOnEachBackend(
  "the admin console when MFA_REQUIRED_ROLES names the admin role",
  { MFA_REQUIRED_ROLES: "admin", SESSION_CACHE_TTL: "60s" },
  (stack) => {
    test("a session without a second factor is refused (set it up, then prove it); with one it is let in", async () => {
      const base = stack.server.url;
      const email = uniqueEmail("mfa-admin");
      await register(base, email);
      const [row] = await stack.database.db.select().from(users).where(eq(users.email, email));
      await stack.server.gatehouse.users.setRoles(row?.id as string, ["admin"]);
      const cookieOf = (response: Response) =>
        response.headers.getSetCookie()[0]?.split(";")[0] as string;
      const first = cookieOf(await login(base, email));
      const second = cookieOf(await login(base, email));
      const console = (cookie: string, accept = "application/json") =>
        fetch(`${base}/auth/admin/users`, { headers: { cookie, accept }, redirect: "manual" });
      // The resolver asks this admin to set up a factor; so does the console.
      assert.equal((await askResolve(base, "/", { cookie: first })).status, 401);
      const refused = await console(first);
      assert.equal(refused.status, 401, "a factor would let this admin in: not a 403");
      assert.equal((await bodyOf(refused)).error.code, "mfa_enrolment_required");
      const page = await console(first, "text/html");
      assert.equal(page.status, 302);
      assert.match(page.headers.get("location") ?? "", /^\/auth\/mfa\/setup\?rd=/);
      const invite = await fetch(
        `${base}/auth/admin/invitations`,
        postJson({ email: uniqueEmail("invited"), roles: ["admin"] }, first),
      );
      assert.equal(invite.status, 401, "no invitation made without the factor");
      // Set up on the first session, which proves it by doing so.
      const { secret } = await bodyOf(await fetch(`${base}/auth/mfa/totp`, postJson({}, first)));
      const confirmed = await fetch(
        `${base}/auth/mfa/totp/confirm`,
        postJson({ code: totpCodeAt(secret, Date.now()) }, first),
      );
      assert.equal(confirmed.status, 200, await confirmed.clone().text());
      assert.equal((await console(first)).status, 200);
      // The other session, signed in with the password alone, must prove it.
      const stepUp = await console(second);
      assert.equal(stepUp.status, 401);
      assert.equal((await bodyOf(stepUp)).error.code, "mfa_required");
    });
  },
);
