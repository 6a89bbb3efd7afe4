// XSRF protection at the resolver, over HTTP on both databases: the signed
// double-submit token of the session, checked for cookie-authenticated
// unsafe requests, and never kept by a proxy's auth cache.
import assert from "node:assert/strict";
import { test } from "node:test";
import { xsrfTokenFor } from "../../src/sessions/xsrf.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import { askResolve, bodyOf, register, uniqueEmail } from "../helpers/gatehouse.ts";

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
  },
);
