// The README's recipe "Next to an existing Auth.js app", through real nginx
// running the shipped files and headless Chromium: a page of the Next.js
// app's domain, signed in by Auth.js (its cookie, whole or chunked, minted
// by @auth/core), calls the protected API with fetch, and the API receives
// the identity; signed out, or with a forged header, it gets nothing.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import type { Browser } from "playwright-core";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { startEchoApp } from "../helpers/echo-app.ts";
import { type RunningGatehouse, startGatehouse } from "../helpers/gatehouse.ts";
import { closeServer } from "../helpers/http.ts";
import { startNginx } from "../helpers/nginx.ts";
import { freePort } from "../helpers/ports.ts";
import { chunkV5, mintV5, V5_COOKIE, V5_SECRET } from "./tokens.ts";

/**
 * The README's edits to the shipped gatehouse.conf: `location /` becomes the
 * API's `location /backend/` (upstream app is the API) without the login
 * redirect, and a new, unprotected `location /` serves the Next.js app.
 */
function authjsRecipe(site: string, nextjsPort: number): string {
  const protectedLocation = site
    .replace("    location / {", "    location /backend/ {")
    .replace("        error_page 401 = @gatehouse_login;\n", "");
  const nextjs = `
    # The Next.js app: its pages and Auth.js's own routes; gatehouse is not asked.
    location / {
        proxy_pass http://nextjs;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-Proto $scheme;
        # Auth.js's chunked cookies come back as several kilobytes of Set-Cookie.
        proxy_buffer_size 16k;
        proxy_buffers 8 16k;
    }
`;
  const end = protectedLocation.lastIndexOf("}");
  return `upstream nextjs {
    server 127.0.0.1:${nextjsPort};
    keepalive 32;
}
${protectedLocation.slice(0, end)}${nextjs}${protectedLocation.slice(end)}`;
}

/** The page the Next.js app serves: it calls the API and shows what came back. */
const PAGE = `<!doctype html><title>app</title><pre id="out">loading</pre>
<script>
fetch("/backend/me", { headers: { "x-auth-user-id": "forged" } })
  .then(async (r) => { document.getElementById("out").textContent = JSON.stringify({ status: r.status, body: await r.text() }); });
</script>`;

/** A stand-in for the Next.js app: /signin/<sub> sets Auth.js's cookie as its callback would. */
async function startNextApp(): Promise<{ port: number; stop(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const signIn = /^\/signin\/([a-z0-9-]+)$/.exec(url.pathname);
    if (signIn) {
      const big = url.searchParams.has("big");
      const token = await mintV5({
        sub: signIn[1],
        name: "Linus",
        email: "linus@example.com",
        role: ["editor"],
        ...(big ? { access_token: "t".repeat(4000) } : {}),
      });
      const cookies = await chunkV5(V5_COOKIE, token);
      res.writeHead(302, {
        location: "/",
        "set-cookie": cookies.map(
          ({ name, value }) => `${name}=${value}; Path=/; HttpOnly; SameSite=Lax`,
        ),
      });
      res.end();
      return;
    }
    if (url.pathname === "/signout") {
      res.writeHead(302, {
        location: "/",
        "set-cookie": [0, 1, 2]
          .map((i) => `${V5_COOKIE}.${i}=; Path=/; Max-Age=0`)
          .concat(`${V5_COOKIE}=; Path=/; Max-Age=0`),
      });
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, stop: () => closeServer(server) };
}

let database: DatabaseHandle;
let gatehouse: RunningGatehouse;
let api: Awaited<ReturnType<typeof startEchoApp>>;
let nextApp: Awaited<ReturnType<typeof startNextApp>>;
let nginx: Awaited<ReturnType<typeof startNginx>>;
let browser: Browser;
let base: string;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  database = await openDatabase({ kind: "pglite" });
  gatehouse = await startGatehouse(database, {
    PUBLIC_URL: base,
    AUTHJS_SECRET: V5_SECRET,
    AUTHJS_ROLES_CLAIM: "role",
    RULES: "[{ path: /backend/**, credentials: [authjs] }]",
  });
  [api, nextApp] = await Promise.all([startEchoApp(), startNextApp()]);
  nginx = await startNginx({
    gatehousePort: gatehouse.port,
    appPort: api.port,
    port,
    editSite: (site) => authjsRecipe(site, nextApp.port),
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await nginx?.stop();
  await api?.stop();
  await nextApp?.stop();
  await gatehouse?.stop();
  await database?.close();
});

/** What the page's fetch to the API got: status and the headers the API received. */
async function pageResult(page: import("playwright-core").Page) {
  await page.waitForFunction(() => document.getElementById("out")?.textContent !== "loading");
  const { status, body } = JSON.parse((await page.locator("#out").textContent()) ?? "{}");
  return { status: status as number, echoed: status === 200 ? JSON.parse(body) : null };
}

for (const size of ["one cookie", "chunked cookies"])
  test(`a page of the Next.js app calls the protected API and the API receives the identity (${size})`, async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${base}/`);
      const signedOut = await pageResult(page);
      assert.equal(signedOut.status, 401, "no Auth.js session: the API is not reached");

      await page.goto(
        `${base}/signin/user-${size === "one cookie" ? "1" : "2"}${size === "one cookie" ? "" : "?big"}`,
      );
      const cookies = (await context.cookies()).filter((cookie) =>
        cookie.name.startsWith(V5_COOKIE),
      );
      assert.equal(cookies.length, size === "one cookie" ? 1 : 2);
      const { status, echoed } = await pageResult(page);
      assert.equal(status, 200);
      const headers = echoed.headers as Record<string, string>;
      assert.equal(echoed.url, "/backend/me");
      assert.equal(
        headers["x-auth-user-id"],
        size === "one cookie" ? "user-1" : "user-2",
        "the forged header is replaced",
      );
      assert.equal(headers["x-auth-email"], "linus@example.com");
      assert.equal(headers["x-auth-roles"], "editor");
      assert.equal(headers["x-auth-method"], "authjs");
      const jwks = createLocalJWKSet(await (await fetch(`${base}/.well-known/jwks.json`)).json());
      const { payload } = await jwtVerify(headers["x-auth-jwt"] ?? "", jwks, {
        audience: new URL(base).host,
        issuer: base,
      });
      assert.equal(payload.sub, headers["x-auth-user-id"]);

      await page.goto(`${base}/signout`);
      assert.equal((await pageResult(page)).status, 401, "signed out: nothing again");
    } finally {
      await context.close();
    }
  });

test("a tampered Auth.js cookie gets a 401 through nginx, never the API", async () => {
  const token = await mintV5({ sub: "user-3" });
  // One character of the authentication tag changed (never to itself).
  const tampered = `${token.slice(0, -3)}${token.at(-3) === "A" ? "B" : "A"}${token.slice(-2)}`;
  const response = await fetch(`${base}/backend/me`, {
    headers: { cookie: `${V5_COOKIE}=${tampered}` },
  });
  assert.equal(response.status, 401);
  assert.doesNotMatch(await response.text(), /x-auth-user-id/);
});

test("the Next.js app's own pages and Auth.js routes are not behind gatehouse", async () => {
  const response = await fetch(`${base}/api/auth/session`);
  assert.equal(response.status, 200);
  assert.match(await response.text(), /<pre id="out">/);
});
