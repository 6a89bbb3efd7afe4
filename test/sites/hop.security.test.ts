// The hop between sites, attacked, on both databases: a code replayed, used
// on another site, without or with another state cookie, too late; a return
// target off the satellite's site; an unknown domain at every step; a
// satellite's cookie carried to another site. Each is refused with a page
// saying why, and creates nothing (sessions and codes counted). Over https,
// so cookies carry their __Host- and __Secure- prefixes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { count, eq, sql } from "drizzle-orm";
import { proveAddress } from "../../src/accounts/first-proof.ts";
import { auditEvents, sessions, siteCodes, users } from "../../src/db/schema.ts";
import { totpCodeAt } from "../../src/mfa/totp.ts";
import { describeOnEachBackend, type Stack } from "../helpers/backends.ts";
import { manualClock } from "../helpers/clock.ts";
import { askResolve, GOOD_PASSWORD, uniqueEmail } from "../helpers/gatehouse.ts";

const HOME = "home.example";
const SHOP = "shop.example-shop.net";
const APP = "app.client.io";
const clock = manualClock();

// Counts the jobs handed to the password-hashing threads (accounts/passwords.ts):
// an observer on the real threads, which still do the work.
let argon2Jobs = 0;
const postMessage = Worker.prototype.postMessage;
Worker.prototype.postMessage = function (this: Worker, message: unknown, ...rest: never[]) {
  const op = (message as { op?: string } | null)?.op;
  if (op === "hash" || op === "verify") argon2Jobs += 1;
  return postMessage.call(this, message, ...rest);
};

const env = {
  PUBLIC_URL: `https://${HOME}`,
  SITES: `[{ domain: ${SHOP}, name: Shop }, { domain: ${APP}, cookie_domain: true }]`,
  RULES: `[{ path: "/secure/**", mfa: true, max_auth_age: 5m }]`,
};

/** name=value of a Set-Cookie whose name ends with `suffix`, or undefined. */
function cookieFrom(response: Response, name: string): string | undefined {
  const line = response.headers.getSetCookie().find((one) => one.startsWith(`${name}=`));
  const pair = line?.split(";")[0];
  return pair && pair !== `${name}=` ? pair : undefined;
}

describeOnEachBackend(
  "the hop between sites, attacked",
  env,
  (stack: Stack) => {
    const get = (host: string, path: string, cookie = "") =>
      stack.server.gatehouse.app.request(`https://${host}${path}`, {
        headers: { host, ...(cookie ? { cookie } : {}) },
      });
    const db = () => stack.database.db;

    async function signUp(): Promise<{ userId: string; home: string }> {
      const email = uniqueEmail("hop");
      const response = await stack.server.gatehouse.app.request(`https://${HOME}/auth/register`, {
        method: "POST",
        headers: { host: HOME, "content-type": "application/json" },
        body: JSON.stringify({ email, password: GOOD_PASSWORD }),
      });
      assert.equal(response.status, 201);
      const home = cookieFrom(response, "__Host-gatehouse_session") as string;
      assert.ok(home, "the home cookie is __Host- over https");
      const [user] = await db().select({ id: users.id }).from(users).where(eq(users.email, email));
      return { userId: user?.id as string, home };
    }

    const sessionCount = async (userId: string) =>
      (await db().select({ n: count() }).from(sessions).where(eq(sessions.userId, userId)))[0]?.n;
    const codeCount = async () => (await db().select({ n: count() }).from(siteCodes))[0]?.n;

    /** Start on `host` and be answered by home with a code: the callback URL and the state cookie. */
    async function codeFor(host: string, home: string, rd = `https://${host}/orders`) {
      const start = await get(host, `/auth/sites/start?rd=${encodeURIComponent(rd)}`);
      assert.equal(start.status, 302);
      const state = cookieFrom(start, "__Host-gatehouse_session_site") as string;
      assert.ok(state, "the state cookie is host-only (__Host-)");
      const authorize = new URL(start.headers.get("location") as string);
      assert.equal(authorize.origin, `https://${HOME}`);
      const answer = await get(HOME, `${authorize.pathname}${authorize.search}`, home);
      assert.equal(answer.status, 302);
      const callback = new URL(answer.headers.get("location") as string);
      assert.equal(callback.host, host);
      return { callback: `${callback.pathname}${callback.search}`, state };
    }

    /** Waits until `n` statements of this database wait on a lock (PostgreSQL). */
    const lockWaits = async (n: number) => {
      const waiting = async () =>
        Number(
          (
            (await db().execute(
              sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
            )) as unknown as { n: number }[]
          )[0]?.n,
        );
      for (let i = 0; i < 1000 && (await waiting()) < n; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.ok((await waiting()) >= n, `${n} statements waiting`);
    };

    const refused = async (response: Response, reason: string) => {
      assert.equal(response.status, 400, reason);
      assert.equal(response.headers.get("x-gatehouse-error"), reason);
      assert.match(response.headers.get("content-type") ?? "", /text\/html/);
      assert.match(await response.text(), /This sign-in link cannot be used/);
      assert.equal(response.headers.getSetCookie().filter((c) => /session=[^;]/.test(c)).length, 0);
    };

    test("the hop: a host-only satellite session, honoured on its own site only", async () => {
      const { userId, home } = await signUp();
      const { callback, state } = await codeFor(SHOP, home);
      const done = await get(SHOP, callback, state);
      assert.equal(done.status, 302);
      assert.equal(done.headers.get("location"), `https://${SHOP}/orders`);
      const satellite = cookieFrom(done, "__Host-gatehouse_session") as string;
      assert.ok(satellite);
      assert.doesNotMatch(done.headers.getSetCookie().join("\n"), /Domain=/i);
      assert.equal(await sessionCount(userId), 2);
      // Sent to the hop while signed in there (a proxy reporting another host): a page, not a loop.
      const again = await get(SHOP, "/auth/sites/start", satellite);
      await refused(again, "already_signed_in");
      assert.equal(cookieFrom(again, "__Host-gatehouse_session_site"), undefined);
      assert.equal(await sessionCount(userId), 2);
      // One sign-in, two sites, as the sessions API lists them.
      const listed = (await (await get(HOME, "/auth/sessions", home)).json()).sessions;
      assert.deepEqual(
        listed.map((one: { site: string | null }) => one.site).sort(),
        [SHOP, null].sort(),
      );
      assert.equal(new Set(listed.map((one: { signInId: string }) => one.signInId)).size, 1);
      const resolve = (host: string, cookie: string) =>
        askResolve(stack.server.url, "/x", { "x-forwarded-host": host, cookie });
      assert.equal((await resolve(SHOP, satellite)).status, 200);
      // A satellite's cookie carried to the home site, or the other way: no one there.
      assert.equal((await resolve(HOME, satellite)).status, 401);
      assert.equal((await resolve(SHOP, home)).status, 401);
      // A cookie_domain site: its own __Secure- cookie with its Domain.
      const app = await codeFor(`www.${APP}`, home);
      const appDone = await get(`www.${APP}`, app.callback, app.state);
      const appCookie = appDone.headers.getSetCookie().find((c) => c.startsWith("__Secure-"));
      assert.match(appCookie ?? "", /Domain=app\.client\.io/i);
      assert.equal(
        (await resolve(`api.${APP}`, (appCookie as string).split(";")[0] as string)).status,
        200,
      );
    });

    test("a session cookie under another site's name, planted by a sibling subdomain, is nobody", async () => {
      // The attacker's own sessions: home, and a hop to the host-only satellite.
      const attacker = await signUp();
      const { callback, state } = await codeFor(SHOP, attacker.home);
      const shop = cookieFrom(
        await get(SHOP, callback, state),
        "__Host-gatehouse_session",
      ) as string;
      const token = (cookie: string) => cookie.split("=")[1] as string;
      const resolve = (host: string, cookie: string) =>
        askResolve(stack.server.url, "/x", { "x-forwarded-host": host, cookie });
      assert.equal((await resolve(SHOP, shop)).status, 200, "under its own name it is honoured");
      // blog.example-shop.net may set `__Secure-` cookies for the parent
      // domain (never `__Host-` ones): the name of a cookie_domain site.
      for (const [host, planted] of [
        [SHOP, `__Secure-gatehouse_session=${token(shop)}`],
        [HOME, `__Secure-gatehouse_session=${token(attacker.home)}`],
      ] as const) {
        const answer = await resolve(host, planted);
        assert.equal(answer.status, 401, `${host}: ${answer.headers.get("x-auth-user-id")}`);
        assert.equal(answer.headers.get("x-auth-user-id"), null);
      }
    });

    test("the hop does no password work", async () => {
      const before = argon2Jobs;
      const { home } = await signUp();
      assert.ok(argon2Jobs > before, "the probe sees registration's hash");
      const atHop = argon2Jobs;
      const started = performance.now();
      const { callback, state } = await codeFor(SHOP, home);
      assert.equal((await get(SHOP, callback, state)).status, 302);
      const ms = performance.now() - started;
      assert.equal(argon2Jobs, atHop, "no hash or verify job during the hop");
      console.log(`# ${stack.backend.name}: the hop's three requests took ${ms.toFixed(1)} ms`);
    });

    test("a code replayed is refused and creates nothing; both are in the audit log", async () => {
      const { userId, home } = await signUp();
      const { callback, state } = await codeFor(SHOP, home);
      assert.equal((await get(SHOP, callback, state)).status, 302);
      const before = await sessionCount(userId);
      await refused(await get(SHOP, callback, state), "unknown_code");
      assert.equal(await sessionCount(userId), before);
      const other = await codeFor(APP, home);
      await refused(
        await get(APP, other.callback, (await codeFor(APP, home)).state),
        "wrong_state",
      );
      // Written in the background: a moment to land.
      let types: string[] = [];
      for (let i = 0; i < 50 && !types.includes("site.hop_refused"); i++) {
        await new Promise((r) => setTimeout(r, 20));
        types = (await db().select().from(auditEvents).where(eq(auditEvents.userId, userId))).map(
          (event) => `${event.type}`,
        );
      }
      assert.ok(types.includes("site.signed_in"), types.join());
      assert.ok(types.includes("site.hop_refused"), types.join());
    });

    test("a sign-out racing the code's exchange leaves no session behind", async () => {
      for (let i = 0; i < 8; i++) {
        const { userId, home } = await signUp();
        const { callback, state } = await codeFor(SHOP, home);
        const [exchange, logout] = await Promise.all([
          get(SHOP, callback, state),
          stack.server.gatehouse.app.request(`https://${HOME}/auth/logout`, {
            method: "POST",
            headers: { host: HOME, cookie: home, accept: "application/json" },
          }),
        ]);
        assert.equal(logout.status, 200);
        assert.ok([302, 400].includes(exchange.status), String(exchange.status));
        assert.equal(await sessionCount(userId), 0, `round ${i}: ${exchange.status}`);
      }
    });

    test("signing out everywhere while a code is being exchanged leaves no session behind", async (t) => {
      // Two connections' interleaving: only a server database has them.
      if (stack.backend.name !== "postgres") return t.skip("PGlite runs one statement at a time");
      const { userId, home } = await signUp();
      const { callback, state } = await codeFor(SHOP, home);
      let exchange: Response | Promise<Response> | undefined;
      let revoke: Promise<number> | undefined;
      await db().transaction(async (tx) => {
        // Writes to sessions wait behind this: the exchange, its home session
        // locked FOR SHARE, waits at its insert.
        await tx.execute(sql`lock table sessions in share mode`);
        exchange = get(SHOP, callback, state);
        await lockWaits(1);
        revoke = stack.server.gatehouse.sessions.revokeAllForUser(userId);
        await lockWaits(2);
      });
      assert.equal((await (exchange as Response | Promise<Response>)).status, 302);
      await revoke;
      assert.equal(
        await sessionCount(userId),
        0,
        "the satellite session made meanwhile is gone too",
      );
    });

    test("the address's first proof while a code is being exchanged leaves the squatter no satellite session", async (t) => {
      // Two connections' interleaving: only a server database has them.
      if (stack.backend.name !== "postgres") return t.skip("PGlite runs one statement at a time");
      // Whoever registered the address (unproven) hops; its owner proves it meanwhile.
      const { userId, home } = await signUp();
      const { callback, state } = await codeFor(SHOP, home);
      let exchange: Response | Promise<Response> | undefined;
      let proof: Promise<unknown> | undefined;
      await db().transaction(async (tx) => {
        // Writes to sessions wait behind this: the exchange, its home session
        // locked FOR SHARE, waits at its insert; the proof at its delete.
        await tx.execute(sql`lock table sessions in share mode`);
        exchange = get(SHOP, callback, state);
        await lockWaits(1);
        proof = db().transaction((proving) => proveAddress(proving, userId, () => new Date()));
        await lockWaits(2);
      });
      await exchange;
      await proof;
      assert.equal(await sessionCount(userId), 0, "nothing made before the proof survives it");
    });

    test("a factor proven again at home counts on the satellites of the same sign-in (no step-up loop)", async () => {
      const { userId, home } = await signUp();
      const post = (path: string, body: unknown) =>
        stack.server.gatehouse.app.request(`https://${HOME}${path}`, {
          method: "POST",
          headers: { host: HOME, cookie: home, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const { secret } = await (await post("/auth/mfa/totp", {})).json();
      assert.equal(
        (await post("/auth/mfa/totp/confirm", { code: totpCodeAt(secret, clock.now()) })).status,
        200,
      );
      const { callback, state } = await codeFor(SHOP, home);
      const shop = cookieFrom(
        await get(SHOP, callback, state),
        "__Host-gatehouse_session",
      ) as string;
      const secure = () =>
        askResolve(stack.server.url, "/secure/x", { "x-forwarded-host": SHOP, cookie: shop });
      assert.equal((await secure()).status, 200, "the sign-in's factor, on the satellite");
      // Later than max_auth_age: the satellite sends the browser home to prove it again.
      clock.advance(10 * 60_000);
      const stepUp = await secure();
      assert.equal(stepUp.status, 401);
      const to = new URL(stepUp.headers.get("location") as string);
      assert.equal(to.href.split("?")[0], `https://${HOME}/auth/mfa`, "proven at home");
      const proven = await post("/auth/mfa/verify", {
        kind: "totp",
        code: totpCodeAt(secret, clock.now()),
      });
      assert.equal(proven.status, 200, await proven.clone().text());
      const back = await secure();
      assert.equal(back.status, 200, "the satellite's session has the new proof too");
      assert.equal(back.headers.get("x-auth-mfa"), "true");
      assert.equal(await sessionCount(userId), 2);
    });

    test("a code used on another site is refused, and used up", async () => {
      const { userId, home } = await signUp();
      const forShop = await codeFor(SHOP, home);
      // The other site's own state cookie, from a start of its own.
      const appStart = await get(APP, "/auth/sites/start");
      const appState = cookieFrom(appStart, "__Host-gatehouse_session_site") as string;
      await refused(await get(APP, forShop.callback, appState), "wrong_site");
      await refused(await get(SHOP, forShop.callback, forShop.state), "unknown_code");
      assert.equal(await sessionCount(userId), 1);
    });

    test("a missing or another state cookie is refused, and the code used up", async () => {
      const { userId, home } = await signUp();
      const first = await codeFor(SHOP, home);
      await refused(await get(SHOP, first.callback), "missing_state");
      await refused(await get(SHOP, first.callback, first.state), "unknown_code");
      const second = await codeFor(SHOP, home);
      const other = await codeFor(SHOP, home);
      await refused(await get(SHOP, second.callback, other.state), "wrong_state");
      assert.equal(await sessionCount(userId), 1);
    });

    test("a code is good for seconds only", async () => {
      const { userId, home } = await signUp();
      const { callback, state } = await codeFor(SHOP, home);
      clock.advance(31_000);
      await refused(await get(SHOP, callback, state), "unknown_code");
      assert.equal(await sessionCount(userId), 1);
    });

    test("a forged return target is refused at the start and at home, with nothing created", async () => {
      const { userId, home } = await signUp();
      for (const rd of [
        "https://evil.example/",
        `https://${HOME}/auth/account`,
        `https://${APP}/`,
        `http://${SHOP}/`,
        `https://${SHOP}.evil.example/`,
        `https://${SHOP}@evil.example/`,
        "//evil.example/",
        "javascript:alert(1)",
      ]) {
        const start = await get(SHOP, `/auth/sites/start?rd=${encodeURIComponent(rd)}`);
        await refused(start, "bad_return");
        assert.equal(cookieFrom(start, "__Host-gatehouse_session_site"), undefined, rd);
      }
      const codes = await codeCount();
      const state = "A".repeat(43);
      const forged = await get(
        HOME,
        `/auth/sites/authorize?host=${SHOP}&state=${state}&rd=${encodeURIComponent("https://evil.example/")}`,
        home,
      );
      await refused(forged, "bad_return");
      assert.equal(await codeCount(), codes);
      assert.equal(await sessionCount(userId), 1);
    });

    test("an unknown domain gets no session, no code and no redirect", async () => {
      const { userId, home } = await signUp();
      const codes = await codeCount();
      await refused(await get("evil.example", "/auth/sites/start"), "unknown_site");
      await refused(
        await get(HOME, `/auth/sites/authorize?host=evil.example&state=${"A".repeat(43)}`, home),
        "unknown_site",
      );
      // The home site asked to hop to itself: not a satellite.
      await refused(
        await get(HOME, `/auth/sites/authorize?host=${HOME}&state=${"A".repeat(43)}`, home),
        "home_only",
      );
      assert.equal(await codeCount(), codes);
      // Signing in on an unknown host: refused before any password is read.
      const login = await stack.server.gatehouse.app.request("https://evil.example/auth/login", {
        method: "POST",
        headers: { host: "evil.example", "content-type": "application/json" },
        body: JSON.stringify({ email: "x@example.test", password: GOOD_PASSWORD }),
      });
      assert.equal(login.status, 400);
      assert.equal((await login.json()).error.code, "unknown_site", "JSON for an API caller");
      // The resolver: a 403 without Location, even with a live session.
      const resolve = await askResolve(stack.server.url, "/x", {
        "x-forwarded-host": "evil.example",
        cookie: home,
      });
      assert.equal(resolve.status, 403);
      assert.equal(resolve.headers.get("location"), null);
      assert.equal((await resolve.json()).error.code, "unknown_site");
      assert.equal(await sessionCount(userId), 1);
    });

    test("a satellite without a session is sent to its own hop; home without one to sign in, then back", async () => {
      const resolve = await askResolve(stack.server.url, "/orders?id=1", {
        "x-forwarded-host": SHOP,
        "x-forwarded-proto": "https",
      });
      assert.equal(resolve.status, 401);
      const location = new URL(resolve.headers.get("location") as string);
      assert.equal(location.origin, `https://${SHOP}`);
      assert.equal(location.pathname, "/auth/sites/start");
      assert.equal(location.searchParams.get("rd"), `https://${SHOP}/orders?id=1`);
      const start = await get(SHOP, `${location.pathname}${location.search}`);
      const authorize = new URL(start.headers.get("location") as string);
      const noSession = await get(HOME, `${authorize.pathname}${authorize.search}`);
      assert.equal(noSession.status, 302);
      const login = new URL(noSession.headers.get("location") as string);
      assert.equal(login.href.split("?")[0], `https://${HOME}/auth/login`);
      assert.equal(login.searchParams.get("rd"), authorize.href);
      // A satellite's other pages are the home site's.
      const account = await get(SHOP, "/auth/account?x=1");
      assert.equal(account.headers.get("location"), `https://${HOME}/auth/account?x=1`);
    });

    test("signing out the other sessions keeps this sign-in on every site", async () => {
      const { userId, home } = await signUp();
      const [user] = await db().select().from(users).where(eq(users.id, userId));
      // A second sign-in of the same account, elsewhere, with a satellite of its own.
      const second = await stack.server.gatehouse.app.request(`https://${HOME}/auth/login`, {
        method: "POST",
        headers: { host: HOME, "content-type": "application/json" },
        body: JSON.stringify({ email: user?.email, password: GOOD_PASSWORD }),
      });
      const elsewhere = cookieFrom(second, "__Host-gatehouse_session") as string;
      for (const cookie of [home, elsewhere]) {
        const hop = await codeFor(SHOP, cookie);
        assert.equal((await get(SHOP, hop.callback, hop.state)).status, 302);
      }
      assert.equal(await sessionCount(userId), 4);
      const revoked = await stack.server.gatehouse.app.request(
        `https://${HOME}/auth/sessions/revoke-others`,
        { method: "POST", headers: { host: HOME, cookie: home, accept: "application/json" } },
      );
      assert.equal((await revoked.json()).revoked, 2);
      const left = await db().select().from(sessions).where(eq(sessions.userId, userId));
      assert.deepEqual(left.map((one) => one.site).sort(), [SHOP, null].sort());
      assert.equal(new Set(left.map((one) => one.signInId)).size, 1, "this sign-in, both sites");
    });

    test("a satellite's sign-out page has no language selector (its /locale would be refused there)", async () => {
      const page = async (host: string) =>
        (
          await stack.server.gatehouse.app.request(`https://${host}/auth/logout`, {
            headers: { host },
          })
        ).text();
      assert.match(await page(HOME), /action="\/auth\/locale"/);
      assert.doesNotMatch(await page(SHOP), /\/auth\/locale/);
    });

    test("signing out on a satellite signs out every site of that sign-in, and only that one", async () => {
      const { userId, home } = await signUp();
      const other = await signUp();
      const shop = await codeFor(SHOP, home);
      const shopCookie = cookieFrom(
        await get(SHOP, shop.callback, shop.state),
        "__Host-gatehouse_session",
      ) as string;
      const app = await codeFor(APP, home);
      assert.equal((await get(APP, app.callback, app.state)).status, 302);
      assert.equal(await sessionCount(userId), 3);
      const logout = await stack.server.gatehouse.app.request(`https://${SHOP}/auth/logout`, {
        method: "POST",
        headers: { host: SHOP, cookie: shopCookie, accept: "application/json" },
      });
      assert.equal(logout.status, 200);
      assert.match(logout.headers.getSetCookie().join("\n"), /__Host-gatehouse_session=;/);
      assert.equal(await sessionCount(userId), 0);
      assert.equal(await sessionCount(other.userId), 1, "another user's sign-in stays");
      // A code issued before the sign-out is worth nothing after it.
      const late = await signUp();
      const pending = await codeFor(SHOP, late.home);
      await stack.server.gatehouse.app.request(`https://${HOME}/auth/logout`, {
        method: "POST",
        headers: { host: HOME, cookie: late.home, accept: "application/json" },
      });
      await refused(await get(SHOP, pending.callback, pending.state), "signed_out");
      assert.equal(await sessionCount(late.userId), 0);
    });
  },
  { clock },
);
