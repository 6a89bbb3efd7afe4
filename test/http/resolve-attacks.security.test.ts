// Attacks on /_resolve that once got through, each a test that failed before
// its fix. Each describes what a hostile client sends, what gatehouse
// answered, and what the application behind the proxy would have served. Run
// against a real gatehouse on PGlite; the proxy-dependent ones run real nginx
// (the shipped deploy/nginx snippet, and the rendering of the shipped
// ingress-nginx manifests) in front of it.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { encode as encodeAuthjs } from "@auth/core/jwt";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { startEchoApp } from "../helpers/echo-app.ts";
import {
  askResolve,
  bodyOf,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { startIngressNginx } from "../helpers/ingress-nginx.ts";
import { HEADERS_MORE, runNginx } from "../helpers/nginx.ts";
import { freePort } from "../helpers/ports.ts";
import { rawExchange } from "../helpers/raw-socket.ts";

/** A map block of the shipped gatehouse.conf, as it is. */
function shippedMap(variable: string): string {
  const conf = readFileSync("deploy/nginx/gatehouse.conf", "utf8");
  const start = conf.search(new RegExp(`^map .* \\${variable} \\{`, "m"));
  return conf.slice(start, conf.indexOf("\n}\n", start) + 3);
}

function rulesFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "gatehouse-attack-rules-")), "gatehouse.yaml");
  writeFileSync(file, text);
  return file;
}

const RULES = `
rules:
  - path: /
    access: public
  - path: /files/private/**
    roles: [admin]
  - path: /files/**
    access: public
    allow_encoded_slashes: true
  - path: /admin/**
    roles: [admin]
  - path: /settings/**
    roles: [admin]
  - path: /reports
    roles: [auditor]
  - path: /api/**
    methods: [DELETE]
    roles: [admin]
  - path: /docs/**
    methods: [GET]
    access: public
  - host: admin.example.test
    roles: [admin]
  - host: www.example.test
    access: public
`;

/** 403 invalid_request: the request was refused as unreadable, never judged. */
async function assertRefused(response: Response, what: string): Promise<void> {
  assert.equal(response.status, 403, `${what}: answered ${response.status}`);
  assert.equal((await bodyOf(response)).error.code, "invalid_request", what);
}

/** Anything but a 2xx: the proxy must not forward the request. */
async function assertNotAllowed(response: Response, what: string): Promise<void> {
  assert.ok(
    response.status >= 300,
    `${what}: answered ${response.status} (anonymous: ${response.headers.get("x-auth-anonymous")})`,
  );
}

describe("resolve attacks: gatehouse alone", () => {
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  /** A signed-in user with no role at all. */
  let cookie: string;
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    server = await startGatehouse(database, { GATEHOUSE_CONFIG: rulesFile(RULES) });
    cookie = await register(server.url, uniqueEmail("attacker"));
  });
  after(async () => {
    await server?.stop();
    await database?.close();
  });

  test("X-Original-URL whose host ends in ? is judged as the path /", async () => {
    for (const url of [
      "http://app.example.test?/admin/secret",
      "http://app.example.test:80?/admin/secret",
      "http://app.example.test?x/admin/secret",
    ]) {
      const anonymous = await fetch(`${server.url}/_resolve`, {
        headers: { "x-original-url": url, "x-original-method": "GET" },
        redirect: "manual",
      });
      await assertRefused(anonymous, url);
      const user = await fetch(`${server.url}/_resolve`, {
        headers: { "x-original-url": url, "x-original-method": "GET", cookie },
        redirect: "manual",
      });
      await assertRefused(user, `${url} (signed in)`);
    }
  });

  test("a ; parameter hides encoded dot segments from the check", async () => {
    for (const uri of [
      "/files/a;%2F..%2F..%2Fadmin/x",
      "/files/a%3B%2F..%2F..%2Fadmin/x",
      "/files/a;x%2F..%2F..%2Fsettings/x",
    ]) {
      await assertRefused(await askResolve(server.url, uri), uri);
    }
    // Without the `;` the same path is refused today.
    await assertRefused(await askResolve(server.url, "/files/a%2F..%2F..%2Fadmin/x"), "no ;");
  });

  test("an encoded slash steps over a narrower rule nested in an allow_encoded_slashes rule", async () => {
    for (const uri of ["/files/private%2Freport.txt", "/files/private%5Creport.txt"]) {
      await assertNotAllowed(await askResolve(server.url, uri), `${uri} (anonymous)`);
      await assertNotAllowed(await askResolve(server.url, uri, { cookie }), `${uri} (user)`);
    }
  });

  test("a trailing slash steps over an exact path rule", async () => {
    assert.equal((await askResolve(server.url, "/reports", { cookie })).status, 403);
    for (const uri of ["/reports/", "/REPORTS/", "/reports/?x=1"]) {
      const response = await askResolve(server.url, uri, { cookie });
      assert.equal(response.status, 403, uri);
    }
  });

  test("a method override turns a POST into the DELETE a rule forbids", async () => {
    const deleteDirect = await askResolve(server.url, "/api/items/1", {
      cookie,
      "x-original-method": "DELETE",
    });
    assert.equal(deleteDirect.status, 403);
    const attempts: [string, Record<string, string>][] = [
      ["/api/items/1", { "x-http-method-override": "DELETE" }],
      ["/api/items/1", { "x-http-method": "DELETE" }],
      ["/api/items/1", { "x-method-override": "delete" }],
      ["/api/items/1?_method=DELETE", {}],
    ];
    for (const [uri, headers] of attempts) {
      const response = await askResolve(server.url, uri, {
        cookie,
        "x-original-method": "POST",
        ...headers,
      });
      assert.equal(response.status, 403, `${uri} ${JSON.stringify(headers)}`);
    }
  });

  test("a lower-case method is judged as its upper-case namesake", async () => {
    const upper = await askResolve(server.url, "/docs/x", { "x-original-method": "GET" });
    assert.equal(upper.status, 200);
    for (const method of ["get", "Get", "head"]) {
      const response = await fetch(`${server.url}/_resolve`, {
        headers: {
          "x-forwarded-uri": "/docs/x",
          "x-forwarded-method": method,
          "x-forwarded-host": "app.example.test",
          "x-forwarded-proto": "http",
        },
      });
      assert.notEqual(response.status, 200, method);
    }
  });

  test("a trusted proxy that leaves out the URI or the method gets a guess, not a refusal", async () => {
    const noUri = await fetch(`${server.url}/_resolve`, {
      headers: { "x-forwarded-host": "app.example.test", "x-forwarded-proto": "http" },
    });
    await assertRefused(noUri, "no URI header");
    const noMethod = await fetch(`${server.url}/_resolve`, {
      headers: {
        "x-original-uri": "/api/items/1",
        "x-forwarded-host": "app.example.test",
        cookie,
      },
    });
    await assertRefused(noMethod, "no method header");
  });

  test("an empty X-Forwarded-Host is replaced by gatehouse's own Host", async () => {
    const empty = await askResolve(server.url, "/x", { cookie, "x-forwarded-host": "" });
    await assertRefused(empty, "empty X-Forwarded-Host");
  });

  test("segments Windows and Unicode-folding servers read as protected names", async () => {
    for (const uri of [
      "/admin./x",
      "/admin%20/x",
      "/%C5%BFettings/x",
      "/adm%C4%B1n/x",
      "/adm%C4%B0n/x",
      "/admin::$INDEX_ALLOCATION/x",
    ]) {
      const response = await askResolve(server.url, uri, { cookie });
      assert.equal(response.status, 403, uri);
    }
  });

  test("a double-encoded letter is judged once-decoded", async () => {
    for (const uri of ["/%2561dmin/x", "/%2541DMIN/x"]) {
      const response = await askResolve(server.url, uri, { cookie });
      assert.equal(response.status, 403, uri);
    }
  });
});

describe("resolve attacks: rules and other settings", () => {
  let database: DatabaseHandle;
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
  });
  after(async () => {
    await database?.close();
  });

  test("a host rule written with its scheme's default port never matches", async () => {
    let server: RunningGatehouse;
    try {
      server = await startGatehouse(database, {
        RULES: "[{ host: 'admin.example.test:443', roles: [admin] }]",
      });
    } catch {
      return; // Refusing the rule at startup is a fix too.
    }
    try {
      const cookie = await register(server.url, uniqueEmail("port"));
      const response = await askResolve(server.url, "/x", {
        cookie,
        "x-forwarded-proto": "https",
        "x-forwarded-host": "admin.example.test",
      });
      assert.equal(response.status, 403);
    } finally {
      await server.stop();
    }
  });

  test("forwarded headers from a peer missing from TRUSTED_PROXIES are judged as /_resolve", async () => {
    const server = await startGatehouse(database, {
      TRUSTED_PROXIES: "10.9.9.9",
      RULES: "[{ path: '/admin/**', roles: [admin] }]",
    });
    try {
      const cookie = await register(server.url, uniqueEmail("untrusted"));
      const response = await askResolve(server.url, "/admin/x", { cookie });
      assert.notEqual(response.status, 200);
    } finally {
      await server.stop();
    }
  });

  test("an Auth.js session cookie is XSRF-checked like a gatehouse session", async () => {
    const secret = "an Auth.js secret for the attack tests (long enough)";
    const server = await startGatehouse(database, {
      AUTHJS_SECRET: secret,
      XSRF_PROTECTION: "true",
    });
    try {
      const name = "authjs.session-token";
      const token = await encodeAuthjs({
        token: { sub: "next-user-1", email: "next@example.test", name: "Next" },
        secret,
        salt: name,
        maxAge: 3600,
      });
      const cookie = `${name}=${token}`;
      const get = await askResolve(server.url, "/api/items", { cookie });
      assert.equal(get.status, 200, "the Auth.js cookie is valid");
      assert.equal(get.headers.get("x-auth-method"), "authjs");
      // The gatehouse session is checked: this is what the Auth.js cookie skips.
      const session = await register(server.url, uniqueEmail("xsrf"));
      const sessionPost = await askResolve(server.url, "/api/items", {
        cookie: session,
        "x-original-method": "POST",
      });
      assert.equal(sessionPost.status, 403);
      const post = await askResolve(server.url, "/api/items", {
        cookie,
        "x-original-method": "POST",
      });
      assert.equal(post.status, 403, "a cookie-authenticated POST without its XSRF token");
      assert.equal((await bodyOf(post)).error.code, "xsrf");
    } finally {
      await server.stop();
    }
  });
});

describe("resolve attacks through real nginx", () => {
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  let app: Awaited<ReturnType<typeof startEchoApp>>;
  let cookie: string;
  before(async () => {
    database = await openDatabase({ kind: "pglite" });
    server = await startGatehouse(database, { GATEHOUSE_CONFIG: rulesFile(RULES) });
    app = await startEchoApp();
    cookie = await register(server.url, uniqueEmail("proxy-attacker"));
  });
  after(async () => {
    await app?.stop();
    await server?.stop();
    await database?.close();
  });

  test("ingress-nginx: a ? in the Host header makes gatehouse judge / while the application gets the path", async () => {
    const proxy = await startIngressNginx({
      gatehousePort: server.port,
      appPort: app.port,
      port: await freePort(),
    });
    try {
      const heads = [
        "GET http://app.example.com/admin/secret HTTP/1.1\r\nHost: app.example.com?\r\nConnection: close\r\n\r\n",
        "GET /admin/secret HTTP/1.1\r\nHost: app.example.com?\r\nConnection: close\r\n\r\n",
      ];
      for (const head of heads) {
        const answer = await rawExchange(proxy.port, head, { closeWaitMs: 10 });
        assert.ok(
          !answer.body.includes('"url":"/admin/secret"'),
          `the application served /admin/secret anonymously: ${answer.status} ${answer.body.slice(0, 200)}`,
        );
      }
    } finally {
      await proxy.stop();
    }
  });

  test("the shipped nginx snippet: the rules judge the Host header while nginx routes on the request line", async () => {
    const port = await freePort();
    const site = readFileSync("deploy/nginx/gatehouse.conf", "utf8")
      .replace("server 127.0.0.1:4180;", `server 127.0.0.1:${server.port};`)
      .replace("server 127.0.0.1:3000;", `server 127.0.0.1:${app.port};`)
      .replace("listen 80;", `listen 127.0.0.1:${port};`)
      .replace("/etc/nginx/snippets/gatehouse-auth.conf", "{dir}/gatehouse-auth.conf");
    const start = site.indexOf("server {");
    const block = site.slice(start);
    const named = (host: string, tag: string) =>
      block
        .replace("server_name _;", `server_name ${host};`)
        .replace(
          "proxy_pass http://app;",
          `proxy_set_header X-Site ${tag};\n        proxy_pass http://app;`,
        );
    const proxy = await runNginx({
      port,
      files: {
        "gatehouse-auth.conf": readFileSync("deploy/nginx/gatehouse-auth.conf", "utf8"),
        "site.conf": `${site.slice(0, start)}${named("admin.example.test", "admin")}\n${named("www.example.test", "www")}`,
      },
      http: "include {dir}/site.conf;",
      modules: [HEADERS_MORE],
    });
    try {
      const normal = await rawExchange(
        port,
        "GET /secret HTTP/1.1\r\nHost: admin.example.test\r\nConnection: close\r\n\r\n",
        { closeWaitMs: 10 },
      );
      assert.notEqual(normal.status, 200, "the admin site needs a session");
      for (const head of [
        "GET http://admin.example.test/secret HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n",
        `GET http://admin.example.test/secret HTTP/1.1\r\nHost: www.example.test\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
      ]) {
        const answer = await rawExchange(port, head, { closeWaitMs: 10 });
        assert.ok(
          !answer.body.includes('"x-site":"admin"'),
          `the admin application was reached: ${answer.status} ${answer.body.slice(0, 200)}`,
        );
      }
    } finally {
      await proxy.stop();
    }
  });

  describe("nginx serving files behind gatehouse", () => {
    let proxy: Awaited<ReturnType<typeof runNginx>>;
    let port: number;
    before(async () => {
      const root = mkdtempSync(join(tmpdir(), "gatehouse-attack-static-"));
      mkdirSync(join(root, "files/private"), { recursive: true });
      mkdirSync(join(root, "files/a"), { recursive: true });
      mkdirSync(join(root, "admin"), { recursive: true });
      writeFileSync(join(root, "files/public.txt"), "PUBLIC FILE");
      writeFileSync(join(root, "files/private/report.txt"), "PRIVATE REPORT");
      writeFileSync(join(root, "admin/x"), "ADMIN ONLY");
      port = await freePort();
      proxy = await runNginx({
        port,
        files: {
          "gatehouse-auth.conf": readFileSync("deploy/nginx/gatehouse-auth.conf", "utf8"),
        },
        http: `
upstream gatehouse { server 127.0.0.1:${server.port}; }
map "$http_accept|$http_x_requested_with" $gatehouse_browser { default 0; }
${shippedMap("$gatehouse_forwarded_host")}
server {
    listen 127.0.0.1:${port};
    server_name _;
    include {dir}/gatehouse-auth.conf;
    location / {
        auth_request /_gatehouse_resolve;
        auth_request_set $gatehouse_login_location $upstream_http_location;
        auth_request_set $gatehouse_error $upstream_http_x_gatehouse_error;
        root ${root};
    }
}`,
        modules: [HEADERS_MORE],
      });
    });
    after(async () => {
      await proxy?.stop();
    });
    const get = (path: string) =>
      rawExchange(
        port,
        `GET ${path} HTTP/1.1\r\nHost: files.example.test\r\nConnection: close\r\n\r\n`,
        {
          closeWaitMs: 10,
        },
      );

    test("the setup: public files are served, private ones need a session", async () => {
      assert.equal((await get("/files/public.txt")).body, "PUBLIC FILE");
      assert.equal((await get("/files/private/report.txt")).status, 401);
      assert.equal((await get("/admin/x")).status, 401);
      assert.equal((await get("/files/a%2F..%2F..%2Fadmin/x")).status, 403);
    });

    test("nginx serves /admin/x for /files/a;%2F..%2F..%2Fadmin/x", async () => {
      const answer = await get("/files/a;%2F..%2F..%2Fadmin/x");
      assert.ok(!answer.body.includes("ADMIN ONLY"), `${answer.status} ${answer.body}`);
    });

    test("nginx serves /files/private/report.txt for /files/private%2Freport.txt", async () => {
      const answer = await get("/files/private%2Freport.txt");
      assert.ok(!answer.body.includes("PRIVATE REPORT"), `${answer.status} ${answer.body}`);
    });
  });
});
