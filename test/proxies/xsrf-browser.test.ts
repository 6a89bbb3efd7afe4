// XSRF protection in headless Chromium through real nginx, with
// XSRF_PROTECTION on: the app's page, signed in, makes `POST /api/...` with
// the real axios browser build and with the README's fetch wrapper (Angular's
// convention), and the application receives the identity; a page on another
// origin (a second loopback port: same site, so the Lax session cookie goes
// along) posting a form or a fetch with credentials gets 403, and the
// application receives nothing. And the 401 codes reach a page's fetch
// through nginx: session_expired, unauthenticated.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { type BrowserStack, startBrowserStack } from "../helpers/browser-stack.ts";
import { manualClock } from "../helpers/clock.ts";
import { GOOD_PASSWORD, uniqueEmail } from "../helpers/gatehouse.ts";
import { closeServer } from "../helpers/http.ts";
import { freePort } from "../helpers/ports.ts";

const AXIOS = readFileSync("node_modules/axios/dist/axios.min.js", "utf8");

// The README's plain-fetch wrapper, as the app's page ships it.
const FETCH_WRAPPER = `
function api(url, init = {}) {
  const token = document.cookie.match(/(?:^|; )XSRF-TOKEN=([^;]*)/)?.[1];
  const headers = new Headers(init.headers);
  if (token) headers.set("X-XSRF-TOKEN", decodeURIComponent(token));
  return fetch(url, { credentials: "same-origin", ...init, headers });
}`;

type Received = { method: string; url: string; headers: IncomingMessage["headers"] };

/** The application behind nginx: its page, axios, and an API that records what reached it. */
async function startApp() {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const send = (type: string, body: string) => {
      res.writeHead(200, { "content-type": type, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.url === "/axios.min.js") return send("text/javascript", AXIOS);
    if (req.url === "/app")
      return send(
        "text/html",
        `<!doctype html><title>app</title><script src="/axios.min.js"></script><script>${FETCH_WRAPPER}</script>`,
      );
    req.resume();
    req.on("end", () => {
      received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
      send("application/json", JSON.stringify({ headers: req.headers }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    stop: () => closeServer(server),
  };
}

/** Another origin's page: what it posts to the app, with the browser's cookies. */
async function startOtherOrigin(target: string) {
  const page = `<!doctype html><title>elsewhere</title>
<form id="f" method="POST" action="${target}/api/transfer"><input name="amount" value="1000"></form>
<script>
function sendFetch() {
  return fetch("${target}/api/transfer-fetch", {
    method: "POST", credentials: "include", mode: "no-cors",
    headers: { "content-type": "text/plain" }, body: "amount=1000",
  }).then(() => "sent", (error) => String(error));
}
</script>`;
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html", "content-length": Buffer.byteLength(page) });
    res.end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => closeServer(server),
  };
}

let stack: BrowserStack<Awaited<ReturnType<typeof startApp>>>;
let app: Awaited<ReturnType<typeof startApp>>;
let other: Awaited<ReturnType<typeof startOtherOrigin>>;
let browser: Browser;
let base: string;
const clock = manualClock();

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  other = await startOtherOrigin(base);
  stack = await startBrowserStack({
    port,
    env: { XSRF_PROTECTION: "true" },
    gatehouse: { clock },
    startApp,
  });
  ({ app, browser } = stack);
});

after(async () => {
  await stack?.stop();
  await other?.stop();
});

test("the app's page posts with axios and with the fetch wrapper; another origin's page gets 403", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const email = uniqueEmail("xsrf-browser");

  await page.goto(`${base}/app`);
  assert.equal(new URL(page.url()).pathname, "/auth/login");
  await page.getByRole("link", { name: "Create one" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(GOOD_PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(`${base}/app`);

  const cookies = await context.cookies(base);
  const xsrf = cookies.find((cookie) => cookie.name === "XSRF-TOKEN");
  assert.ok(xsrf, "registration set the XSRF cookie");
  assert.equal(xsrf.httpOnly, false);
  assert.equal(xsrf.sameSite, "Lax");

  // axios reads XSRF-TOKEN and sends X-XSRF-TOKEN by itself.
  const byAxios = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axios is the page's global
    const response = await (globalThis as any).axios.post("/api/items", { name: "one" });
    return { status: response.status, data: response.data };
  });
  assert.equal(byAxios.status, 200);
  assert.equal(byAxios.data.headers["x-auth-email"], email);
  assert.equal(byAxios.data.headers["x-xsrf-token"], xsrf.value);

  const byWrapper = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: the wrapper is the page's global
    const response = await (globalThis as any).api("/api/items", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    return { status: response.status, data: await response.json() };
  });
  assert.equal(byWrapper.status, 200);
  assert.equal(byWrapper.data.headers["x-auth-email"], email);

  // Plain fetch without the header: refused (nginx answers the auth subrequest's 403 itself).
  const bare = await page.evaluate(async () => {
    const response = await fetch("/api/items", { method: "POST", body: "{}" });
    return response.status;
  });
  assert.equal(bare, 403);

  const reached = app.received.length;
  const elsewhere = await context.newPage();
  await elsewhere.goto(other.url);
  const fetched = elsewhere.waitForResponse((response) =>
    response.url().endsWith("/api/transfer-fetch"),
  );
  assert.equal(await elsewhere.evaluate("sendFetch()"), "sent");
  assert.equal((await fetched).status(), 403);

  const submitted = elsewhere.waitForResponse((response) =>
    response.url().endsWith("/api/transfer"),
  );
  await elsewhere.evaluate(() => (document.getElementById("f") as HTMLFormElement).submit());
  assert.equal((await submitted).status(), 403);

  assert.equal(app.received.length, reached, "the application received nothing from elsewhere");
  assert.ok(
    app.received.every((request) => !request.url.startsWith("/api/transfer")),
    JSON.stringify(app.received.map((request) => request.url)),
  );
  await context.close();
});

test("through nginx, a page's fetch learns why it gets a 401; a navigation goes to the login page", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/app`);
  await page.getByRole("link", { name: "Create one" }).click();
  await page.getByLabel("Email").fill(uniqueEmail("expiring-browser"));
  await page.getByLabel("Password").fill(GOOD_PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(`${base}/app`);

  const ask = () =>
    page.evaluate(async () => {
      const response = await fetch("/api/items", { headers: { accept: "application/json" } });
      return { status: response.status, body: await response.text() };
    });
  assert.equal((await ask()).status, 200);
  clock.advance(7 * 24 * 3600 * 1000 + 3600 * 1000); // an hour past the 7-day idle window
  const expired = await ask();
  assert.equal(expired.status, 401);
  const { error } = JSON.parse(expired.body);
  assert.equal(error.code, "session_expired");
  assert.match(error.link, /\/auth\/login\?rd=/);

  await context.clearCookies();
  assert.equal(JSON.parse((await ask()).body).error.code, "unauthenticated");
  await page.goto(`${base}/app`);
  assert.equal(new URL(page.url()).pathname, "/auth/login");
  await context.close();
});
