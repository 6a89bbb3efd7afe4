// Every bad input gets a clear 4xx (401 or 403 on /_resolve), never a 500 and
// never a hang, and nothing stored changes.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { before, test } from "node:test";
import { count } from "drizzle-orm";
import type { DatabaseHandle } from "../../src/db/client.ts";
import { sessions, users } from "../../src/db/schema.ts";
import { describeOnEachBackend } from "../helpers/backends.ts";
import {
  askResolve,
  bodyOf,
  GOOD_PASSWORD,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";

async function rowCounts(database: DatabaseHandle) {
  const [u] = await database.db.select({ n: count() }).from(users);
  const [s] = await database.db.select({ n: count() }).from(sessions);
  return { users: u?.n, sessions: s?.n };
}

/** Sends raw bytes and returns the status line, so malformed requests reach the server as written. */
function rawStatus(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(request));
    let data = "";
    socket.setTimeout(5000, () => reject(new Error("no answer within 5 s")));
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
      if (data.includes("\r\n")) {
        socket.destroy();
        resolve(data.split("\r\n")[0] ?? "");
      }
    });
    socket.on("error", reject);
  });
}

const PROVIDER_ENV = {
  OAUTH_PROVIDERS:
    '[{ id: idp, type: oidc, issuer: "http://127.0.0.1:9", client_id: x, client_secret_env: IDP_SECRET }]',
  IDP_SECRET: "s",
};

describeOnEachBackend("bad input", PROVIDER_ENV, (stack) => {
  let cookie: string;
  before(async () => {
    cookie = await register(stack.server.url, uniqueEmail());
  });

  test("malformed bodies on the JSON API", async () => {
    const before = await rowCounts(stack.database);
    const cases: [string, RequestInit, number, string][] = [
      [
        "/auth/login",
        { body: "{not json", headers: { "content-type": "application/json" } },
        400,
        "invalid_request",
      ],
      [
        "/auth/login",
        { body: "[1,2]", headers: { "content-type": "application/json" } },
        400,
        "invalid_request",
      ],
      [
        "/auth/login",
        { body: "null", headers: { "content-type": "application/json" } },
        400,
        "invalid_request",
      ],
      [
        "/auth/login",
        { body: "email=a", headers: { "content-type": "text/plain" } },
        415,
        "unsupported_media_type",
      ],
      ["/auth/login", { body: "x" }, 415, "unsupported_media_type"],
      [
        "/auth/register",
        {
          body: JSON.stringify({
            email: ["a@example.test", "b@example.test"],
            password: GOOD_PASSWORD,
          }),
          headers: { "content-type": "application/json" },
        },
        400,
        "invalid_email",
      ],
      [
        "/auth/register",
        {
          body: "email=a%40example.test&email=b%40example.test&password=a+long+passphrase+1",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            accept: "application/json",
          },
        },
        400,
        "invalid_email",
      ],
      [
        "/auth/login",
        {
          body: JSON.stringify({ email: "a@example.test, b@example.test", password: "x" }),
          headers: { "content-type": "application/json" },
        },
        400,
        "invalid_email",
      ],
      [
        "/auth/login",
        {
          body: JSON.stringify({ email: { $ne: null }, password: "x" }),
          headers: { "content-type": "application/json" },
        },
        400,
        "invalid_email",
      ],
      [
        "/auth/register",
        {
          body: JSON.stringify({ email: uniqueEmail(), password: "short" }),
          headers: { "content-type": "application/json" },
        },
        400,
        "weak_password",
      ],
      [
        "/auth/register",
        {
          body: JSON.stringify({ email: uniqueEmail(), password: "password123" }),
          headers: { "content-type": "application/json" },
        },
        400,
        "weak_password",
      ],
      [
        "/auth/register",
        {
          body: JSON.stringify({ email: uniqueEmail(), password: "x".repeat(129) }),
          headers: { "content-type": "application/json" },
        },
        400,
        "weak_password",
      ],
      [
        "/auth/register",
        {
          body: JSON.stringify({ email: uniqueEmail(), password: "😀".repeat(200) }),
          headers: { "content-type": "application/json" },
        },
        400,
        "weak_password",
      ],
      [
        "/auth/register",
        {
          body: JSON.stringify({ email: uniqueEmail(), password: 12345678 }),
          headers: { "content-type": "application/json" },
        },
        400,
        "weak_password",
      ],
      [
        "/auth/register",
        {
          body: JSON.stringify({ email: uniqueEmail(), password: GOOD_PASSWORD, name: { a: 1 } }),
          headers: { "content-type": "application/json" },
        },
        400,
        "invalid_request",
      ],
      [
        "/auth/login",
        {
          body: JSON.stringify({ email: "a@example.test", password: "x".repeat(20_000) }),
          headers: { "content-type": "application/json" },
        },
        413,
        "payload_too_large",
      ],
    ];
    for (const [path, init, status, code] of cases) {
      const response = await fetch(`${stack.server.url}${path}`, { method: "POST", ...init });
      assert.equal(response.status, status, `${path} ${String(init.body).slice(0, 60)}`);
      const body = await bodyOf(response);
      assert.equal(body.error.code, code, `${path} ${String(init.body).slice(0, 60)}`);
      assert.equal(typeof body.error.message, "string");
    }
    assert.deepEqual(await rowCounts(stack.database), before);
  });

  test("email links and provider callbacks: strange input is a 4xx that changes nothing", async () => {
    const before = await rowCounts(stack.database);
    const json = (body: unknown) => ({
      method: "POST",
      headers: { "content-type": "application/json", cookie },
      body: JSON.stringify(body),
    });
    const cases: [string, RequestInit, number][] = [
      ["/auth/verify-email", json({ token: ["a", "b"] }), 400],
      ["/auth/verify-email", json({ token: { $ne: null } }), 400],
      ["/auth/verify-email", json({ token: "x".repeat(10_000) }), 400],
      ["/auth/reset-password", json({ token: 42, password: [] }), 400],
      ["/auth/reset-password", json({}), 400],
      ["/auth/forgot-password", json({ email: ["a@example.test", "b@example.test"] }), 400],
      ["/auth/forgot-password", json({ email: "a@example.test\r\nBcc: x@example.test" }), 400],
      ["/auth/password", json({ currentPassword: {}, newPassword: GOOD_PASSWORD }), 400],
      ["/auth/password", { method: "POST", headers: { cookie }, body: "x" }, 415],
      [
        "/auth/oauth/idp/callback",
        {
          method: "POST",
          headers: { "content-type": "multipart/form-data" },
          body: "--nothing\r\n",
        },
        400,
      ],
      [
        "/auth/oauth/idp/callback",
        {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "code=a&code=b&state=%ZZ",
        },
        400,
      ],
      ["/auth/oauth/idp/callback?code=a&state=b&error=%ZZ", { method: "GET" }, 400],
      ["/auth/oauth/..%2F..%2Fetc/callback?code=a", { method: "GET" }, 404],
      ["/auth/identities/not-an-id", { method: "DELETE", headers: { cookie } }, 404],
    ];
    for (const [path, init, status] of cases) {
      const response = await fetch(`${stack.server.url}${path}`, init);
      assert.equal(
        response.status,
        status,
        `${init.method} ${path} ${String(init.body).slice(0, 40)}`,
      );
    }
    for (const path of ["/auth/verify-email?token=%ZZ", "/auth/reset-password?token[]=a"]) {
      assert.equal((await fetch(`${stack.server.url}${path}`)).status, 400, path);
    }
    assert.deepEqual(await rowCounts(stack.database), before);
  });

  test("the password length limit counts code points, NFKC-normalised", async () => {
    const email = uniqueEmail();
    const sixtyFour = "é".repeat(64);
    const response = await fetch(`${stack.server.url}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: sixtyFour }),
    });
    assert.equal(response.status, 201);
    // The decomposed spelling of the same password signs in too.
    const login = await fetch(`${stack.server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "e\u0301".repeat(64) }),
    });
    assert.equal(login.status, 200);
  });

  test("malformed cookies and credentials on /_resolve are 401, never 500", async () => {
    const cookies = [
      "gatehouse_session=",
      "gatehouse_session=%%%",
      "gatehouse_session=not-base64!!",
      `gatehouse_session=${"A".repeat(43)}`,
      `gatehouse_session=${"A".repeat(6000)}`,
      "gatehouse_session",
      ";;;==;",
      `gatehouse_session=${"A".repeat(43)}; gatehouse_session=${"B".repeat(43)}`,
    ];
    for (const value of cookies) {
      const response = await askResolve(stack.server.url, "/", { cookie: value });
      assert.equal(response.status, 401, value.slice(0, 60));
    }
    // A duplicate with one good value still works (a stale domain cookie must not lock a user out).
    const good = cookie.split("=")[1];
    const mixed = await askResolve(stack.server.url, "/", {
      cookie: `gatehouse_session=${"A".repeat(43)}; gatehouse_session=${good}`,
    });
    assert.equal(mixed.status, 200);

    const authorizations = [
      "Basic dXNlcjpwYXNz",
      "Bearer",
      "Bearer ",
      "Bearer a b",
      `Bearer ${"x".repeat(10_000)}`,
      "Bearer not-a-known-token",
    ];
    for (const authorization of authorizations) {
      const response = await askResolve(stack.server.url, "/", {
        authorization,
        cookie,
      });
      assert.equal(
        response.status,
        401,
        `${authorization.slice(0, 40)}: a bad bearer never falls back to the cookie`,
      );
    }
  });

  test("unreadable forwarded requests get 403 without a redirect", async () => {
    const cases: Record<string, string>[] = [
      { "x-original-url": "not a url", "x-original-method": "GET" },
      { "x-original-uri": "/bad%zz", "x-original-method": "GET" },
      { "x-original-uri": "/a%00b", "x-original-method": "GET" },
      { "x-forwarded-proto": "gopher", "x-forwarded-uri": "/", "x-forwarded-method": "GET" },
      { "x-forwarded-method": "G E T", "x-forwarded-uri": "/" },
      // A trusted proxy that leaves something out gets a refusal, never a guess.
      { "x-forwarded-uri": "/" },
      { "x-original-method": "GET" },
      { "x-forwarded-uri": "/", "x-forwarded-method": "GET", "x-forwarded-host": "" },
    ];
    for (const headers of cases) {
      const response = await fetch(`${stack.server.url}/_resolve`, {
        headers: { ...headers, cookie },
      });
      assert.equal(response.status, 403, JSON.stringify(headers));
      assert.equal(response.headers.get("location"), null);
      assert.equal((await bodyOf(response)).error.code, "invalid_request");
    }
  });

  test("forwarded headers from an untrusted peer are refused, never believed nor replaced by gatehouse's own URL", async () => {
    const strict = await startGatehouse(stack.database, {
      TRUSTED_PROXIES: "10.9.9.9",
      GATEHOUSE_CONFIG: "",
    });
    try {
      const anonymous = await fetch(`${strict.url}/_resolve`, {
        headers: {
          "x-forwarded-host": "evil.example",
          "x-original-url": "https://evil.example/x",
        },
        redirect: "manual",
      });
      assert.equal(anonymous.status, 403);
      assert.equal(anonymous.headers.get("location"), null);
      const body = await bodyOf(anonymous);
      assert.equal(body.error.code, "invalid_request");
      assert.match(body.error.message, /TRUSTED_PROXIES/);
    } finally {
      await strict.stop();
    }
  });

  test("oversized headers and broken requests get a 4xx from the server itself", async () => {
    const huge = await rawStatus(
      stack.server.port,
      `GET /_resolve HTTP/1.1\r\nHost: x\r\nCookie: ${"a".repeat(20_000)}\r\n\r\n`,
    );
    assert.match(huge, /^HTTP\/1\.1 431/);
    const control = await rawStatus(
      stack.server.port,
      "GET /_resolve HTTP/1.1\r\nHost: x\r\nCookie: gatehouse_session=\u0001\u0002\r\n\r\n",
    );
    assert.match(control, /^HTTP\/1\.1 (400|401)/);
    const garbage = await rawStatus(stack.server.port, "NOT HTTP AT ALL\r\n\r\n");
    assert.match(garbage, /^HTTP\/1\.1 400/);
  });

  test("unknown endpoints and wrong methods answer in the one error shape", async () => {
    const missing = await fetch(`${stack.server.url}/nope`);
    assert.equal(missing.status, 404);
    assert.equal((await bodyOf(missing)).error.code, "not_found");
    const getLogout = await fetch(`${stack.server.url}/auth/logout`, { headers: { cookie } });
    assert.equal(getLogout.status, 200, "GET shows a page, and signs nobody out");
    const wrongMethods: [string, string, string][] = [
      ["PUT", "/auth/login", "GET, POST, HEAD"],
      ["DELETE", "/auth/logout", "GET, POST, HEAD"],
      ["GET", "/auth/password", "POST"],
      ["PATCH", "/auth/sessions/some-id", "DELETE"],
      ["GET", "/auth/sessions/revoke-others", "DELETE, POST"],
      ["PUT", "/auth/oauth/idp/callback", "GET, POST, HEAD"],
    ];
    for (const [method, path, allow] of wrongMethods) {
      const wrong = await fetch(`${stack.server.url}${path}`, { method, headers: { cookie } });
      assert.equal(wrong.status, 405, `${method} ${path}`);
      assert.equal(wrong.headers.get("allow"), allow, `${method} ${path}`);
      assert.equal((await bodyOf(wrong)).error.code, "method_not_allowed");
    }
    const unknown = await fetch(`${stack.server.url}/auth/nope`, { method: "POST" });
    assert.equal(unknown.status, 404);
    assert.equal((await bodyOf(unknown)).error.code, "not_found");
    assert.equal((await askResolve(stack.server.url, "/", { cookie })).status, 200);
  });
});
