// XSRF protection at the resolver, over HTTP on both databases: the signed
// double-submit token of the session, checked for cookie-authenticated
// unsafe requests, and never kept by a proxy's auth cache.
import assert from "node:assert/strict";
import { test } from "node:test";
import { xsrfTokenFor } from "../../src/sessions/xsrf.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import {
  askResolve,
  bodyOf,
  login,
  register,
  sessionCookie,
  uniqueEmail,
} from "../helpers/gatehouse.ts";

/** The XSRF-TOKEN cookie a response sets, with its attributes, or undefined. */
function xsrfSetCookie(response: Response): string | undefined {
  return response.headers.getSetCookie().find((cookie) => cookie.startsWith("XSRF-TOKEN="));
}

function cookieValue(setCookie: string | undefined): string {
  assert.ok(setCookie, "an XSRF-TOKEN cookie");
  return setCookie.slice(setCookie.indexOf("=") + 1, setCookie.indexOf(";"));
}

describeOnEachBackend(
  "XSRF at the resolver",
  {
    XSRF_PROTECTION: "true",
    AUTH_CACHE_SECONDS: "5",
    RULES: "[{ path: /webhooks/**, access: authenticated, xsrf: false }]",
  },
  (stack) => {
    test("an unsafe request with the session's cookie needs its XSRF token", async () => {
      const session = await register(stack.server.url, uniqueEmail("xsrf"));
      const token = xsrfTokenFor(session.slice(session.indexOf("=") + 1));
      const post = (headers: Record<string, string>, uri = "/api/items") =>
        askResolve(stack.server.url, uri, { "x-original-method": "POST", ...headers });

      const good = await post({ cookie: `${session}; XSRF-TOKEN=${token}`, "x-xsrf-token": token });
      assert.equal(good.status, 200);
      assert.match(good.headers.get("x-auth-user-id") ?? "", /^[0-9a-f-]{36}$/);
      assert.equal(
        good.headers.get("cache-control"),
        "no-store",
        "an auth cache keyed on cookies must not keep it",
      );

      const refusals: [string, Record<string, string>, RegExp][] = [
        ["no header", { cookie: `${session}; XSRF-TOKEN=${token}` }, /missing/],
        ["no cookie", { cookie: session, "x-xsrf-token": token }, /does not match/],
        [
          "a pair planted by a sibling subdomain",
          { cookie: `${session}; XSRF-TOKEN=planted`, "x-xsrf-token": "planted" },
          /does not belong/,
        ],
      ];
      const other = await register(stack.server.url, uniqueEmail("xsrf-other"));
      const othersToken = xsrfTokenFor(other.slice(other.indexOf("=") + 1));
      refusals.push([
        "another user's token",
        { cookie: `${session}; XSRF-TOKEN=${othersToken}`, "x-xsrf-token": othersToken },
        /does not belong/,
      ]);
      for (const [what, headers, reason] of refusals) {
        const response = await post(headers);
        assert.equal(response.status, 403, what);
        assert.equal(response.headers.get("location"), null, what);
        assert.equal(response.headers.get("cache-control"), "no-store", what);
        const body = await bodyOf(response);
        assert.equal(body.error.code, "xsrf", what);
        assert.match(body.error.message, reason, what);
      }

      // Safe methods, a rule that opts out, and anonymous requests are unaffected.
      const get = await askResolve(stack.server.url, "/api/items", { cookie: session });
      assert.equal(get.status, 200);
      assert.equal(get.headers.get("cache-control"), "max-age=5");
      assert.equal((await post({ cookie: session }, "/webhooks/x")).status, 200);
      assert.equal((await post({})).status, 401);
    });

    test("gatehouse sets the XSRF cookie with every session, on userinfo, and clears it on logout", async () => {
      const base = stack.server.url;
      const email = uniqueEmail("xsrf-cookie");
      const registered = await fetch(`${base}/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password: "a long and uncommon passphrase 42" }),
      });
      assert.equal(registered.status, 201);
      const session = sessionCookie(registered);
      const onRegister = xsrfSetCookie(registered);
      for (const attribute of ["Path=/", "SameSite=Lax"])
        assert.ok(onRegister?.includes(attribute), attribute);
      assert.ok(!onRegister?.includes("HttpOnly"), "scripts must read it");
      assert.ok(!onRegister?.includes("Secure"), "plain http here");
      const token = cookieValue(onRegister);
      assert.equal(token, xsrfTokenFor(session.slice(session.indexOf("=") + 1)));

      // The value set is the one the resolver accepts.
      const post = (cookie: string, header: string) =>
        askResolve(base, "/api/items", {
          "x-original-method": "POST",
          cookie,
          "x-xsrf-token": header,
        });
      assert.equal((await post(`${session}; XSRF-TOKEN=${token}`, token)).status, 200);

      // A password sign-in: a new session, a new token.
      const signedIn = await login(base, email);
      assert.equal(signedIn.status, 200);
      const second = sessionCookie(signedIn);
      const secondToken = cookieValue(xsrfSetCookie(signedIn));
      assert.equal(secondToken, xsrfTokenFor(second.slice(second.indexOf("=") + 1)));
      assert.notEqual(secondToken, token);
      assert.equal((await post(`${second}; XSRF-TOKEN=${secondToken}`, secondToken)).status, 200);

      // userinfo gives a session without one its token (a duplicate dead cookie aside).
      const info = await fetch(`${base}/auth/userinfo`, {
        headers: { cookie: `gatehouse_session=${"A".repeat(43)}; ${second}` },
      });
      assert.equal(info.status, 200);
      assert.equal(cookieValue(xsrfSetCookie(info)), secondToken);
      const anonymous = await fetch(`${base}/auth/userinfo`);
      assert.equal(anonymous.status, 401);
      assert.equal(xsrfSetCookie(anonymous), undefined);

      // Logout clears it.
      const out = await fetch(`${base}/auth/logout`, {
        method: "POST",
        headers: { cookie: second, accept: "application/json", origin: new URL(base).origin },
      });
      assert.equal(out.status, 200);
      const cleared = xsrfSetCookie(out);
      assert.ok(cleared, "cleared");
      assert.match(cleared, /^XSRF-TOKEN=;/);
      assert.match(cleared, /Max-Age=0/);

      // /_resolve never sets a cookie.
      const resolved = await post(`${session}; XSRF-TOKEN=${token}`, token);
      assert.deepEqual(resolved.headers.getSetCookie(), []);
    });
  },
);
