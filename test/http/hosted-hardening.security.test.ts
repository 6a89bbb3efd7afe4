// Hardening of the hosted endpoints (issue 12, items 9 to 12): redirect
// targets and Origin compared by scheme, host and port; early answers to a
// request whose body was not read close the connection; security headers on
// the hosted pages; a deadline for reading a body.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { users } from "../../src/db/schema.ts";
import {
  askResolve,
  bodyOf,
  GOOD_PASSWORD,
  type RunningGatehouse,
  register,
  sessionCookie,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { rawExchange } from "../helpers/raw-socket.ts";

async function verifiedUser(database: DatabaseHandle, base: string) {
  const email = uniqueEmail("hardening");
  const cookie = await register(base, email);
  await database.db.update(users).set({ emailVerified: true }).where(eq(users.email, email));
  return { email, cookie };
}

describe("hosted endpoints hardening", () => {
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  let base: string;
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    server = await startGatehouse(database, {
      ALLOWED_REDIRECT_HOSTS: "app.example.test,admin.example.test:8443,*.apps.example.test",
      BODY_TIMEOUT: "1s",
    });
    base = server.url;
  });
  after(async () => {
    await server?.stop();
    await database?.close();
  });

  describe("item 9: redirect targets and Origin are compared by scheme, host and port", () => {
    test("rd on another port of an allowed host is not followed", async () => {
      const { email } = await verifiedUser(database, base);
      const signIn = (rd: string) =>
        fetch(`${base}/auth/login?rd=${encodeURIComponent(rd)}`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", origin: base },
          body: new URLSearchParams({ email, password: GOOD_PASSWORD }),
          redirect: "manual",
        });
      // No acceptable rd: the account page (DEFAULT_REDIRECT's default).
      const fallback = `${base}/auth/account`;
      const cases: [string, string][] = [
        [`${base}/x?y=1`, `${base}/x?y=1`],
        ["http://127.0.0.1:9999/x", fallback],
        ["https://127.0.0.1/x", fallback],
        ["http://app.example.test/after", "http://app.example.test/after"],
        ["https://app.example.test/after", "https://app.example.test/after"],
        ["http://app.example.test:9999/after", fallback],
        ["http://app.example.test:80/after", "http://app.example.test/after"],
        ["https://admin.example.test:8443/x", "https://admin.example.test:8443/x"],
        ["https://admin.example.test/x", fallback],
        ["https://admin.example.test:9443/x", fallback],
        ["http://one.apps.example.test/x", "http://one.apps.example.test/x"],
        ["http://one.apps.example.test:8080/x", fallback],
      ];
      for (const [rd, expected] of cases) {
        const response = await signIn(rd);
        assert.equal(response.status, 303, rd);
        assert.equal(response.headers.get("location"), expected, rd);
      }
      const page = await (
        await fetch(`${base}/auth/login?rd=${encodeURIComponent("http://127.0.0.1:9999/x")}`)
      ).text();
      assert.ok(!page.includes("9999"), "the login page does not carry the refused target");
    });

    test("POST /auth/api-keys with an Origin on another port is refused", async () => {
      const { cookie } = await verifiedUser(database, base);
      const create = (origin: string) =>
        fetch(`${base}/auth/api-keys`, {
          method: "POST",
          headers: { cookie, origin, "content-type": "application/json" },
          body: JSON.stringify({ name: `from ${origin}` }),
        });
      for (const origin of [
        "http://127.0.0.1:9999",
        `https://127.0.0.1:${server.port}`,
        "http://127.0.0.1",
        "http://app.example.test:9999",
      ]) {
        const response = await create(origin);
        assert.equal(response.status, 403, origin);
        const body = await bodyOf(response);
        assert.equal(body.error.code, "cross_site_request", origin);
        assert.match(body.error.message, /Cross-site/);
      }
      assert.equal((await create(base)).status, 201, "the deployment's own origin");
      assert.equal((await create("http://app.example.test")).status, 201, "an allowed host");
    });

    test("on an https deployment, plain http origins and targets are refused", async () => {
      const https = await startGatehouse(database, {
        PUBLIC_URL: "https://auth.example.test",
        ALLOWED_REDIRECT_HOSTS: "app.example.test",
      });
      try {
        const registerFrom = (origin: string) =>
          fetch(`${https.url}/auth/register`, {
            method: "POST",
            headers: { origin, "content-type": "application/json" },
            body: JSON.stringify({ email: uniqueEmail("tls"), password: GOOD_PASSWORD }),
          });
        for (const origin of [
          "http://auth.example.test",
          "https://auth.example.test:9999",
          "http://app.example.test",
        ]) {
          const refused = await registerFrom(origin);
          assert.equal(refused.status, 403, origin);
          assert.equal((await bodyOf(refused)).error.code, "cross_site_request");
        }
        const accepted = await registerFrom("https://auth.example.test");
        assert.equal(accepted.status, 201);
        const cookie = sessionCookie(accepted);
        assert.equal(
          (
            await fetch(`${https.url}/auth/logout`, {
              method: "POST",
              headers: { cookie, origin: "https://app.example.test", accept: "application/json" },
            })
          ).status,
          200,
        );
        const login = await fetch(
          `${https.url}/auth/login?rd=${encodeURIComponent("http://app.example.test/x")}`,
        );
        assert.ok(!(await login.text()).includes("app.example.test"), "http rd dropped");
      } finally {
        await https.stop();
      }
    });
  });

  describe("item 10: an early answer to a request with an unread body closes the connection", () => {
    const partial = (path: string, headers = "") =>
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${headers}Content-Length: 1000000\r\n\r\n`;

    test("413 for a declared size over the limit: Connection: close, then the server closes", async () => {
      const answer = await rawExchange(server.port, partial("/auth/login"), {
        body: "{".padEnd(1000, " "),
      });
      assert.equal(answer.status, 413);
      assert.equal(answer.headers.connection, "close");
      assert.equal(JSON.parse(answer.body).error.code, "payload_too_large");
      assert.ok(answer.closed, "the server closed the connection");
    });

    test("every other early answer with the body unread closes too", async () => {
      const small = (path: string, headers = "") =>
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Content-Length: 5000\r\n\r\n`;
      // The resolver's own answer is not this test's business (401 or 403): only that it closes.
      const cases: [string, string, number | RegExp][] = [
        ["unauthenticated", small("/auth/api-keys", "Content-Type: application/json\r\n"), 401],
        [
          "cross-site",
          small("/auth/login", "Content-Type: application/json\r\nOrigin: https://evil.test\r\n"),
          403,
        ],
        ["unsupported type", small("/auth/login", "Content-Type: text/plain\r\n"), 415],
        ["unknown endpoint", small("/nope", "Content-Type: application/json\r\n"), 404],
        ["the resolver", small("/_resolve", "X-Original-URI: /x\r\n"), /^4\d\d$/],
      ];
      for (const [name, head, status] of cases) {
        const answer = await rawExchange(server.port, head, { body: "{", closeWaitMs: 500 });
        if (typeof status === "number") assert.equal(answer.status, status, name);
        else assert.match(String(answer.status), status, name);
        assert.equal(answer.headers.connection, "close", name);
        assert.ok(answer.closed, `${name}: closed`);
      }
    });

    test("a request whose body was read keeps its connection", async () => {
      const body = JSON.stringify({ email: uniqueEmail(), password: "wrong password!" });
      const answer = await rawExchange(
        server.port,
        `POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
        { body, closeWaitMs: 300 },
      );
      assert.equal(answer.status, 401);
      assert.equal(answer.headers.connection, "keep-alive");
      assert.equal(answer.closed, false);
    });

    test("fetch: a refused upload does not break the next request on the connection", async () => {
      for (let i = 0; i < 3; i++) {
        const refused = await fetch(`${base}/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "x".repeat(2_000_000),
        });
        assert.equal(refused.status, 413);
        await refused.arrayBuffer();
        assert.equal((await fetch(`${base}/healthz`)).status, 200);
      }
    });
  });

  describe("item 11: security headers on the hosted pages", () => {
    const pages = ["/auth/login", "/auth/register", "/auth/forgot-password", "/auth/logout"];

    test("every hosted page forbids framing, sniffing and referrers, with a hash-only CSP", async () => {
      const { cookie } = await verifiedUser(database, base);
      for (const path of [...pages, "/auth/account"]) {
        const response = await fetch(`${base}${path}`, { headers: { cookie } });
        assert.equal(response.status, 200, path);
        const csp = response.headers.get("content-security-policy") ?? "";
        assert.match(csp, /frame-ancestors 'none'/, path);
        assert.match(csp, /default-src 'none'/, path);
        assert.match(csp, /base-uri 'none'/, path);
        assert.ok(!csp.includes("unsafe-inline"), `${path}: no 'unsafe-inline'`);
        assert.equal(response.headers.get("x-frame-options"), "DENY", path);
        assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
        assert.equal(response.headers.get("referrer-policy"), "same-origin", path);
        assert.equal(response.headers.get("cache-control"), "no-store", path);
        const html = await response.text();
        // Everything inline that the page needs is allowed by the CSP, and nothing else is inline.
        const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1] ?? "");
        assert.ok(styles.length > 0, path);
        for (const style of styles) {
          const hash = createHash("sha256").update(style).digest("base64");
          assert.ok(csp.includes(`'sha256-${hash}'`), `${path}: the style's hash is in the CSP`);
          assert.ok(!style.includes("&quot;"), `${path}: the stylesheet is not HTML-escaped`);
        }
        assert.ok(!/\sstyle=/.test(html), `${path}: no style attributes`);
        // One script, by URL (the CSP names it): the one that shows times in the visitor's zone.
        const scripts = [...html.matchAll(/<script[^>]*>/gi)].map((m) => m[0]);
        for (const script of scripts)
          assert.match(script, /^<script src="\/auth\/local-time\.js\?v=[\w-]+" defer>$/, path);
        assert.ok(csp.includes(`${base}/auth/local-time.js`) || scripts.length === 0, path);
        assert.ok(!/\son[a-z]+=/i.test(html), `${path}: no inline handlers`);
      }
    });

    test("the JSON API gets them too; /_resolve answers stay bare", async () => {
      const { cookie } = await verifiedUser(database, base);
      const info = await fetch(`${base}/auth/userinfo`, { headers: { cookie } });
      assert.equal(info.headers.get("x-content-type-options"), "nosniff");
      assert.equal(info.headers.get("cache-control"), "no-store");
      const error = await fetch(`${base}/auth/userinfo`);
      assert.equal(error.status, 401);
      assert.match(error.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
      for (const headers of [{ cookie }, {}] as Record<string, string>[]) {
        const resolved = await askResolve(base, "/x", headers);
        for (const name of [
          "content-security-policy",
          "x-content-type-options",
          "x-frame-options",
          "referrer-policy",
          "strict-transport-security",
        ])
          assert.equal(resolved.headers.get(name), null, `/_resolve ${resolved.status}: ${name}`);
      }
    });

    test("HSTS only when PUBLIC_URL is https", async () => {
      assert.equal(
        (await fetch(`${base}/auth/login`)).headers.get("strict-transport-security"),
        null,
      );
      const https = await startGatehouse(database, { PUBLIC_URL: "https://auth.example.test" });
      try {
        const page = await fetch(`${https.url}/auth/login`);
        assert.match(page.headers.get("strict-transport-security") ?? "", /^max-age=\d+/);
      } finally {
        await https.stop();
      }
    });
  });

  describe("item 12: a body has a deadline", () => {
    test("a trickled body to /auth/login gets 408 and a closed connection at the deadline", async () => {
      const answer = await rawExchange(
        server.port,
        "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n",
        { trickle: { piece: " ", everyMs: 100 }, timeoutMs: 4000, closeWaitMs: 500 },
      );
      assert.equal(answer.status, 408);
      assert.equal(JSON.parse(answer.body).error.code, "request_timeout");
      assert.equal(answer.headers.connection, "close");
      assert.ok(answer.closed, "the connection is closed");
      assert.ok(answer.answeredAfterMs < 3000, `answered after ${answer.answeredAfterMs} ms`);
    });

    test("chunked, form-encoded, and on a provider callback: the same deadline", async () => {
      const heads = [
        "POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /auth/forgot-password HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 300\r\n\r\n",
        "POST /auth/oauth/idp/callback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 300\r\n\r\n",
      ];
      const pieces = ["1\r\n \r\n", "e", "e"];
      for (const [i, head] of heads.entries()) {
        const answer = await rawExchange(server.port, head, {
          trickle: { piece: pieces[i] as string, everyMs: 100 },
          timeoutMs: 4000,
          closeWaitMs: 300,
        });
        assert.equal(answer.status, 408, head.split("\r\n")[0]);
        assert.equal(answer.headers.connection, "close");
      }
    });

    test("a slow but complete body within the deadline is served", async () => {
      const body = JSON.stringify({ email: uniqueEmail(), password: "wrong password!" });
      const answer = await rawExchange(
        server.port,
        `POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
        {
          body: body.slice(0, 10),
          trickle: { piece: body.slice(10), everyMs: 400, times: 1 },
          closeWaitMs: 100,
        },
      );
      assert.equal(answer.status, 401);
      assert.equal(answer.headers.connection, "keep-alive");
    });
  });
});
