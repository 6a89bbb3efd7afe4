// Bug classes from peers' advisories that must stay closed (issue 12), as
// tables: a User-Agent or a health path never passes auth, and no request
// field makes gatehouse allocate in proportion to it before authentication
// (every body-reading route has a size limit; huge declared sizes, cookie
// counts, JSON arrays and header values get a fast 4xx).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import {
  askResolve,
  GOOD_PASSWORD,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { rawExchange } from "../helpers/raw-socket.ts";

const RULES = `[
  { path: "/public/**", access: public },
  { path: "/admin/**", roles: [admin] }
]`;

describe("bug classes that must stay closed", () => {
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  let base: string;
  let cookie: string;
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    server = await startGatehouse(database, {
      RULES,
      OAUTH_PROVIDERS:
        '[{ id: idp, type: oidc, issuer: "http://127.0.0.1:9", client_id: x, client_secret_env: IDP_SECRET }]',
      IDP_SECRET: "s",
      BODY_TIMEOUT: "2s",
    });
    base = server.url;
    cookie = await register(base, uniqueEmail("classes"));
  });
  after(async () => {
    await server?.stop();
    await database?.close();
  });

  test("a User-Agent or a health path never passes auth: the rules judge them like any other", async () => {
    const paths = [
      "/healthz",
      "/readyz",
      "/livez",
      "/health",
      "/ping",
      "/status",
      "/metrics",
      "/_resolve",
      "/.well-known/jwks.json",
      "/.well-known/acme-challenge/x",
      "/auth/login",
      "/auth/userinfo",
      "/auth/oauth/idp/callback",
      "/favicon.ico",
      "/robots.txt",
      "/healthz?probe=1",
      "/api/healthz",
    ];
    const agents = [
      "kube-probe/1.30",
      "ELB-HealthChecker/2.0",
      "GoogleHC/1.0",
      "Googlebot/2.1 (+http://www.google.com/bot.html)",
      "Prometheus/2.53.0",
      "Consul Health Check",
      "Blackbox Exporter/0.25.0",
      "nginx",
      "",
    ];
    // The application's host, and the host the hosted pages live on (an application may share it).
    const hosts = ["app.example.test", `127.0.0.1:${server.port}`];
    for (const host of hosts)
      for (const path of paths)
        for (const agent of agents)
          for (const method of ["GET", "HEAD", "OPTIONS"]) {
            const what = `${method} ${host}${path} as "${agent}"`;
            const anonymous = await askResolve(base, path, {
              "user-agent": agent,
              "x-forwarded-host": host,
              "x-original-method": method,
            });
            assert.equal(anonymous.status, 401, what);
            assert.notEqual(anonymous.headers.get("x-auth-anonymous"), "true", what);
            assert.ok(!anonymous.headers.get("x-auth-user-id"), what);
          }
    // A signed-in user without the role gets no more on a protected prefix.
    for (const path of ["/admin/healthz", "/admin/metrics", "/admin/readyz"])
      for (const agent of agents) {
        const refused = await askResolve(base, path, { cookie, "user-agent": agent });
        assert.equal(refused.status, 403, `${path} as "${agent}"`);
      }
    // A public rule still answers anonymously, whoever asks: the rules decide, not the agent.
    const open = await askResolve(base, "/public/healthz", { "user-agent": "kube-probe/1.30" });
    assert.equal(open.status, 200);
    assert.equal(open.headers.get("x-auth-anonymous"), "true");
  });

  test("every route that may carry a body has a size limit, checked before anything else", async () => {
    const routes = server.gatehouse.app.routes.filter(
      (route) => !["GET", "HEAD", "ALL"].includes(route.method) && !route.path.includes("*"),
    );
    assert.ok(routes.length >= 15, `found ${routes.length} routes`);
    for (const route of routes) {
      const path = route.path
        .replace(":provider", "idp")
        .replace(/:[a-z]+/gi, "00000000-0000-4000-8000-000000000000");
      const answer = await rawExchange(
        server.port,
        `${route.method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n`,
        { body: "{", closeWaitMs: 200 },
      );
      const what = `${route.method} ${route.path}`;
      assert.equal(answer.status, 413, what);
      assert.equal(JSON.parse(answer.body).error.code, "payload_too_large", what);
      assert.equal(answer.headers.connection, "close", what);
      assert.ok(answer.answeredAfterMs < 1000, `${what}: ${answer.answeredAfterMs} ms`);
    }
  });

  test("request fields cannot make gatehouse allocate in proportion before authentication", async () => {
    const json = (body: string) =>
      `POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const resolve = (headers: string) =>
      `GET /_resolve HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Original-URI: /x\r\nX-Original-Method: GET\r\nX-Forwarded-Host: app.example.test\r\n${headers}\r\n`;
    const manyCookies = Array.from({ length: 1500 }, (_, i) => `c${i}=1`).join("; ");
    const manySessions = Array.from({ length: 200 }, () => `gatehouse_session=${"A".repeat(43)}`);
    const cases: [what: string, request: string, body: string, status: RegExp][] = [
      [
        "a declared body of 10 GB",
        "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n",
        "",
        /^413$/,
      ],
      [
        "a Content-Length beyond any integer",
        "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999999999999999999999999\r\n\r\n",
        "",
        /^4\d\d$/,
      ],
      [
        "a chunk declared as 256 TB",
        "POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n",
        "x".repeat(20_000),
        /^413$/,
      ],
      [
        "a JSON array of 3,000 addresses",
        json(JSON.stringify({ email: Array(3000).fill("a"), password: "x" })),
        "",
        /^400$/,
      ],
      ["JSON nested 7,000 deep", json(`${"[".repeat(7000)}${"]".repeat(7000)}`), "", /^400$/],
      [
        "an object nested 2,500 deep",
        json(`${'{"a":'.repeat(2500)}1${"}".repeat(2500)}`),
        "",
        /^400$/,
      ],
      [
        "a form with 3,000 fields",
        `POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\nContent-Length: 15893\r\n\r\n`,
        Array.from({ length: 3000 }, (_, i) => `f${i}=1`)
          .join("&")
          .padEnd(15_893, "&"),
        /^400$/,
      ],
      [
        "a 15 KB password",
        json(JSON.stringify({ email: "a@example.test", password: "p".repeat(15_000) })),
        "",
        /^40[01]$/,
      ],
      ["1,500 cookies", resolve(`Cookie: ${manyCookies}\r\n`), "", /^401$/],
      ["200 session cookies", resolve(`Cookie: ${manySessions.join("; ")}\r\n`), "", /^401$/],
      [
        "a 15 KB bearer token",
        resolve(`Authorization: Bearer ${"x".repeat(15_000)}\r\n`),
        "",
        /^401$/,
      ],
      [
        "a 15 KB forwarded URI",
        `GET /_resolve HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Original-URI: /${"a".repeat(15_000)}\r\n\r\n`,
        "",
        /^403$/,
      ],
      [
        "1,000 X-Forwarded-For hops",
        resolve(
          `X-Forwarded-For: ${Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(", ")}\r\n`,
        ),
        "",
        /^401$/,
      ],
      [
        "1,000 X-Forwarded-For hops on a sign-in",
        `POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Forwarded-For: ${Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${i & 255}`).join(",")}\r\nContent-Length: 2\r\n\r\n{}`,
        "",
        /^400$/,
      ],
      [
        "headers over the server's limit",
        resolve(`Cookie: ${"a".repeat(20_000)}\r\n`),
        "",
        /^431$/,
      ],
      [
        "a 15 KB rd on the login page",
        `GET /auth/login?rd=${"a".repeat(15_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
        "",
        /^200$/,
      ],
    ];
    for (const [what, request, body, status] of cases) {
      const answer = await rawExchange(server.port, request, { body, closeWaitMs: 0 });
      assert.match(String(answer.status), status, what);
      assert.ok(
        answer.answeredAfterMs < 1500,
        `${what}: answered after ${answer.answeredAfterMs} ms`,
      );
      if (answer.status >= 400 && answer.status !== 431 && answer.body.startsWith("{"))
        assert.ok(JSON.parse(answer.body).error.message, `${what}: with a message`);
    }
    // And the service is still there for the honest.
    const email = uniqueEmail("after");
    await register(base, email);
    const login = await fetch(`${base}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: GOOD_PASSWORD }),
    });
    assert.equal(login.status, 200);
  });

  test("anonymous requests with distinct junk cookies or URLs do not pile up in memory", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const heapMb = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed / 1e6;
    };
    const send = async (count: number, headers: (i: number) => Record<string, string>) => {
      for (let i = 0; i < count; i += 50)
        await Promise.all(
          Array.from({ length: 50 }, async (_, j) => {
            const answer = await fetch(`${base}/_resolve`, { headers: headers(i + j) });
            await answer.arrayBuffer();
            assert.equal(answer.status, 401);
          }),
        );
    };
    await send(50, (i) => ({
      "x-original-uri": "/warm",
      "x-original-method": "GET",
      "x-forwarded-host": "app.example.test",
      cookie: `w${i}=1`,
    }));
    const start = heapMb();
    await send(2000, (i) => ({
      "x-original-uri": `/x/${i}/${"u".repeat(2000)}`,
      "x-original-method": "GET",
      "x-forwarded-host": "app.example.test",
      cookie: `junk${i}=${"z".repeat(8000)}`,
    }));
    const retained = heapMb() - start;
    assert.ok(retained < 4, `2,000 anonymous requests retained ${retained.toFixed(1)} MB`);
  });
});
