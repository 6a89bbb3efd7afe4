// The session contract for front ends, over HTTP on both databases: what
// userinfo says of the session, an explicit refresh (same-origin and
// XSRF-checked), an expired session told apart from none at /_resolve
// (session_expired for an XHR, the login redirect for a navigation), and
// where a sign-in without a return target lands.
import assert from "node:assert/strict";
import { test } from "node:test";
import { xsrfTokenFor } from "../../src/sessions/xsrf.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import { manualClock } from "../helpers/clock.ts";
import {
  askResolve,
  bodyOf,
  GOOD_PASSWORD,
  login,
  register,
  sessionCookie,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { rawRequest } from "../helpers/http.ts";

const clock = manualClock();
const HOUR = 3600 * 1000;

describeOnEachBackend(
  "the session contract",
  { SESSION_IDLE_TIMEOUT: "1h", SESSION_MAX_AGE: "1d", XSRF_PROTECTION: "true" },
  (stack) => {
    const xsrfOf = (cookie: string) => xsrfTokenFor(cookie.slice(cookie.indexOf("=") + 1));

    test("userinfo says when the session ends and how it was signed in", async () => {
      const started = clock.now();
      const cookie = await register(stack.server.url, uniqueEmail("contract"));
      const info = await bodyOf(
        await fetch(`${stack.server.url}/auth/userinfo`, { headers: { cookie } }),
      );
      assert.deepEqual(info.session, {
        idleExpiresAt: new Date(started + HOUR).toISOString(),
        expiresAt: new Date(started + 24 * HOUR).toISOString(),
        authenticatedAt: new Date(started).toISOString(),
        methods: ["password"],
      });
    });

    test("POST /auth/session/refresh extends the idle window: same-origin, with the XSRF token", async () => {
      const base = stack.server.url;
      const cookie = await register(base, uniqueEmail("refresh"));
      const token = xsrfOf(cookie);
      const refresh = (headers: Record<string, string>) =>
        fetch(`${base}/auth/session/refresh`, { method: "POST", headers: { cookie, ...headers } });

      const crossSite = await refresh({
        origin: "http://evil.example",
        cookie: `${cookie}; XSRF-TOKEN=${token}`,
        "x-xsrf-token": token,
      });
      assert.equal(crossSite.status, 403);
      assert.equal((await bodyOf(crossSite)).error.code, "cross_site_request");
      const noHeader = await refresh({ cookie: `${cookie}; XSRF-TOKEN=${token}` });
      assert.equal(noHeader.status, 403);
      assert.equal((await bodyOf(noHeader)).error.code, "xsrf");
      const planted = await refresh({ cookie: `${cookie}; XSRF-TOKEN=x`, "x-xsrf-token": "x" });
      assert.equal(planted.status, 403);
      assert.match((await bodyOf(planted)).error.message, /does not belong/);
      assert.equal((await fetch(`${base}/auth/session/refresh`, { method: "POST" })).status, 401);

      clock.advance(10 * 60 * 1000);
      const refreshed = await refresh({
        cookie: `${cookie}; XSRF-TOKEN=${token}`,
        "x-xsrf-token": token,
      });
      assert.equal(refreshed.status, 200);
      assert.equal(refreshed.headers.get("cache-control"), "no-store");
      const { session } = await bodyOf(refreshed);
      assert.equal(session.idleExpiresAt, new Date(clock.now() + HOUR).toISOString());
      // Kept in the store: still alive 65 minutes after sign-in.
      clock.advance(55 * 60 * 1000);
      assert.equal((await askResolve(base, "/x", { cookie })).status, 200);
    });

    test("/_resolve: an expired session is session_expired to an XHR, the login page to a navigation", async () => {
      const base = stack.server.url;
      const cookie = await register(base, uniqueEmail("expiring"));
      assert.equal((await askResolve(base, "/api/x", { cookie })).status, 200);
      clock.advance(HOUR + 1000);

      const xhr = await askResolve(base, "/api/x", {
        cookie,
        accept: "application/json",
        "x-requested-with": "XMLHttpRequest",
      });
      assert.equal(xhr.status, 401);
      const expired = await bodyOf(xhr);
      assert.equal(expired.error.code, "session_expired");
      assert.equal(xhr.headers.get("x-gatehouse-error"), "session_expired", "for nginx");
      assert.match(xhr.headers.get("location") ?? "", /\/auth\/login\?rd=/);
      // Asked again (now from memory, then from the store), the same answer.
      for (let i = 0; i < 2; i++)
        assert.equal(
          (await bodyOf(await askResolve(base, "/api/x", { cookie }))).error.code,
          "session_expired",
        );

      // A raw request: fetch would add Sec-Fetch-Mode: cors, which no navigation sends.
      const navigation = await rawRequest(`${base}/_resolve?redirect=true`, {
        "x-forwarded-method": "GET",
        "x-forwarded-proto": "http",
        "x-forwarded-host": "app.example.test",
        "x-forwarded-uri": "/page",
        accept: "text/html",
        "sec-fetch-mode": "navigate",
        cookie,
      });
      assert.equal(navigation.status, 302);
      assert.match(String(navigation.headers.location), /\/auth\/login\?rd=/);

      // No session at all, an unknown one, a signed-out one: unauthenticated.
      const other = await register(base, uniqueEmail("signed-out"));
      await fetch(`${base}/auth/logout`, {
        method: "POST",
        headers: { cookie: other, accept: "application/json" },
      });
      for (const headers of <Record<string, string>[]>[
        {},
        { cookie: `gatehouse_session=${"B".repeat(43)}` },
        { cookie: other },
      ]) {
        const answer = await askResolve(base, "/api/x", headers);
        assert.equal(answer.status, 401);
        assert.equal((await bodyOf(answer)).error.code, "unauthenticated", JSON.stringify(headers));
      }
      // An expired session and a live one in the same Cookie header: the live one.
      const live = await register(base, uniqueEmail("live"));
      assert.equal(
        (await askResolve(base, "/api/x", { cookie: `${cookie}; ${live}` })).status,
        200,
      );
    });

    test("a sign-in without a return target lands on the account page", async () => {
      const base = stack.server.url;
      const email = uniqueEmail("landing");
      await register(base, email);
      const json = await login(base, email);
      assert.equal((await bodyOf(json)).redirect, `${base}/auth/account`);
      const form = await fetch(`${base}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: base },
        body: new URLSearchParams({ email, password: GOOD_PASSWORD }),
        redirect: "manual",
      });
      assert.equal(form.status, 303);
      assert.equal(form.headers.get("location"), `${base}/auth/account`);
      const page = await fetch(`${base}/auth/account`, {
        headers: { cookie: sessionCookie(form) },
      });
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    });
  },
  { clock },
);
