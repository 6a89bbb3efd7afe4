import assert from "node:assert/strict";
import { test } from "node:test";
import { eq } from "drizzle-orm";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { users } from "../../src/db/schema.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import { rulesFile } from "../helpers/config-file.ts";
import {
  askResolve,
  bodyOf,
  login,
  register,
  sessionCookie,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { rawRequest } from "../helpers/http.ts";

const IDENTITY_HEADERS = [
  "x-auth-user-id",
  "x-auth-email",
  "x-auth-email-verified",
  "x-auth-name",
  "x-auth-roles",
  "x-auth-method",
  "x-auth-authenticated-at",
  "x-auth-jwt",
];

const resolve = askResolve;

describeOnEachBackend(
  "resolve over HTTP",
  {
    GATEHOUSE_CONFIG: rulesFile(
      "  - path: /public/**",
      "    access: public",
      "  - path: /admin/**",
      "    roles: [admin]",
      "  - path: /forbidden",
      "    access: deny",
    ),
    ALLOWED_REDIRECT_HOSTS: "app.example.test",
  },
  (stack) => {
    test("journey: register, resolve with identity headers, log out, resolve again", async () => {
      const email = uniqueEmail();
      const cookie = await register(stack.server.url, email);
      const ok = await resolve(stack.server.url, "/dashboard", { cookie });
      assert.equal(ok.status, 200);
      for (const name of IDENTITY_HEADERS) assert.ok(ok.headers.has(name), `${name} present`);
      assert.equal(ok.headers.get("x-auth-email"), email);
      assert.equal(ok.headers.get("x-auth-email-verified"), "false");
      assert.equal(ok.headers.get("x-auth-method"), "password");
      assert.equal(ok.headers.get("x-auth-anonymous"), "false");
      assert.match(ok.headers.get("x-auth-user-id") ?? "", /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(ok.headers.get("x-auth-authenticated-at") ?? "")));
      assert.equal(ok.headers.get("set-cookie"), null, "/_resolve never sets a cookie");
      assert.equal(ok.headers.get("vary"), "Cookie, Authorization");
      assert.equal(
        ok.headers.get("cache-control"),
        "no-store",
        "no proxy cache unless AUTH_CACHE_SECONDS is set",
      );

      const info = await fetch(`${stack.server.url}/auth/userinfo`, { headers: { cookie } });
      assert.equal(info.status, 200);
      assert.equal((await bodyOf(info)).email, email);

      const out = await fetch(`${stack.server.url}/auth/logout`, {
        method: "POST",
        headers: { cookie, accept: "application/json" },
      });
      assert.equal(out.status, 200);
      assert.match(out.headers.get("set-cookie") ?? "", /gatehouse_session=;.*Max-Age=0/);
      const after = await resolve(stack.server.url, "/dashboard", { cookie });
      assert.equal(after.status, 401);
      assert.equal(
        (await fetch(`${stack.server.url}/auth/userinfo`, { headers: { cookie } })).status,
        401,
      );
    });

    test("login always issues a new session; each is independent", async () => {
      const email = uniqueEmail();
      const first = await register(stack.server.url, email);
      const response = await login(stack.server.url, email);
      assert.equal(response.status, 200);
      const second = sessionCookie(response);
      assert.notEqual(first, second);
      await fetch(`${stack.server.url}/auth/logout`, {
        method: "POST",
        headers: { cookie: first, accept: "application/json" },
      });
      assert.equal((await resolve(stack.server.url, "/", { cookie: first })).status, 401);
      assert.equal((await resolve(stack.server.url, "/", { cookie: second })).status, 200);
    });

    test("401 carries the login URL with the original URL as rd; browsers can get a 302 instead", async () => {
      const denied = await resolve(stack.server.url, "/reports?year=2026", {
        accept: "application/json",
      });
      assert.equal(denied.status, 401);
      const location = new URL(denied.headers.get("location") ?? "");
      assert.equal(location.pathname, "/auth/login");
      assert.equal(location.searchParams.get("rd"), "http://app.example.test/reports?year=2026");
      assert.equal((await bodyOf(denied)).error.code, "unauthenticated");

      // A raw request: fetch itself would add Sec-Fetch-Mode: cors, which no browser navigation sends.
      const browser = await rawRequest(`${stack.server.url}/_resolve?redirect=true`, {
        "x-forwarded-uri": "/reports",
        "x-forwarded-method": "GET",
        "x-forwarded-host": "app.example.test",
        "x-forwarded-proto": "https",
        accept: "text/html",
        "sec-fetch-mode": "navigate",
      });
      assert.equal(browser.status, 302);
      assert.equal(
        new URL(String(browser.headers.location)).searchParams.get("rd"),
        "https://app.example.test/reports",
      );

      const xhr = await fetch(`${stack.server.url}/_resolve?redirect=true`, {
        headers: {
          "x-forwarded-uri": "/reports",
          "x-forwarded-method": "GET",
          "x-forwarded-host": "app.example.test",
          accept: "text/html",
          "x-requested-with": "XMLHttpRequest",
        },
        redirect: "manual",
      });
      assert.equal(xhr.status, 401);
    });

    test("a refusal has the error shape of every other endpoint: the request id in the body and a header", async () => {
      const fresh = await resolve(stack.server.url, "/reports", { accept: "application/json" });
      const id = fresh.headers.get("x-request-id") ?? "";
      assert.match(id, /^[0-9a-f-]{36}$/, "a new id when the proxy sends none");
      assert.equal((await bodyOf(fresh)).error.requestId, id);

      const traced = await resolve(stack.server.url, "/forbidden", { "x-request-id": "trace-42" });
      assert.equal(traced.status, 403);
      assert.equal(traced.headers.get("x-request-id"), "trace-42", "the proxy's id is kept");
      assert.equal((await bodyOf(traced)).error.requestId, "trace-42");

      const hostile = await resolve(stack.server.url, "/forbidden", { "x-request-id": "a b<c>" });
      assert.notEqual(
        hostile.headers.get("x-request-id"),
        "a b<c>",
        "an id that is not a token is replaced",
      );
    });

    test("public rules answer anonymous with every identity header present and empty", async () => {
      const response = await resolve(stack.server.url, "/public/page");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("x-auth-anonymous"), "true");
      for (const name of IDENTITY_HEADERS) assert.equal(response.headers.get(name), "", name);
    });

    test("roles and deny rules give 403 without a redirect", async () => {
      const email = uniqueEmail();
      const cookie = await register(stack.server.url, email);
      const forbidden = await resolve(stack.server.url, "/admin/settings", { cookie });
      assert.equal(forbidden.status, 403);
      assert.equal(forbidden.headers.get("location"), null);
      assert.equal((await resolve(stack.server.url, "/forbidden", { cookie })).status, 403);
      assert.equal(
        (await resolve(stack.server.url, "/admin/../forbidden", { cookie })).status,
        403,
      );

      await stack.database.db
        .update(users)
        .set({ roles: ["admin"] })
        .where(eq(users.email, email));
      // Roles are read when the session is next loaded: a fresh login sees them at once.
      const admin = sessionCookie(await login(stack.server.url, email));
      const allowed = await resolve(stack.server.url, "/admin/settings", { cookie: admin });
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers.get("x-auth-roles"), "admin");
    });

    test("x-auth-jwt verifies against the published JWKS, bound to the original host", async () => {
      const email = uniqueEmail();
      const cookie = await register(stack.server.url, email);
      const response = await resolve(stack.server.url, "/x", { cookie });
      const jwt = response.headers.get("x-auth-jwt") ?? "";
      const jwks = createRemoteJWKSet(new URL(`${stack.server.url}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(jwt, jwks, {
        issuer: stack.server.url,
        audience: "app.example.test",
        algorithms: ["EdDSA"],
      });
      assert.equal(protectedHeader.alg, "EdDSA");
      assert.equal(payload.sub, response.headers.get("x-auth-user-id"));
      assert.equal(payload.email, email);
      assert.ok((payload.exp ?? 0) - (payload.iat ?? 0) <= 60);
      await assert.rejects(
        jwtVerify(jwt, jwks, { issuer: stack.server.url, audience: "other.example.test" }),
      );
      // Reused while fresh: signing stays off the hot path.
      assert.equal(
        (await resolve(stack.server.url, "/y", { cookie })).headers.get("x-auth-jwt"),
        jwt,
      );
    });

    test("answers have an explicit length, never chunked", async () => {
      const cookie = await register(stack.server.url, uniqueEmail());
      for (const headers of [{ cookie }, {}] as Record<string, string>[]) {
        const head = await rawRequest(`${stack.server.url}/_resolve`, {
          "x-original-uri": "/a",
          "x-original-method": "GET",
          ...headers,
        });
        assert.equal(head.headers["transfer-encoding"], undefined);
        assert.ok(head.headers["content-length"] !== undefined, `content-length on ${head.status}`);
      }
    });

    test("health, readiness and metrics", async () => {
      assert.equal((await fetch(`${stack.server.url}/healthz`)).status, 200);
      const ready = await fetch(`${stack.server.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal((await bodyOf(ready)).database, stack.backend.name);
      const metrics = await (await fetch(`${stack.server.url}/metrics`)).text();
      assert.match(metrics, /gatehouse_resolve_total\{outcome="allow"\} \d+/);
    });
  },
);
