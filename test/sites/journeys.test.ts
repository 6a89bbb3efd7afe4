// One gatehouse, three domains, in headless Chromium through real nginx (two
// replicas sharing PostgreSQL and Redis), real Caddy (each running the
// shipped multi-site example) and the Traefik ForwardAuth harness: three host names on
// loopback (Chromium maps them to 127.0.0.1, and keeps a cookie jar per
// host). Sign in once, visit every site without a prompt, find the sign-in
// once on the account page; sign out on the third site and every site
// refuses at both replicas within 100 ms.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { createLogger } from "../../src/logger.ts";
import { connectRedis, type SharedRedis } from "../../src/redis/client.ts";
import { createPostgresDatabase } from "../helpers/backends.ts";
import { startEchoApp } from "../helpers/echo-app.ts";
import {
  GOOD_PASSWORD,
  type RunningGatehouse,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { startNginx } from "../helpers/nginx.ts";
import { freePort } from "../helpers/ports.ts";
import { startProcess } from "../helpers/process.ts";
import { startRedis } from "../helpers/redis-server.ts";
import { startTraefikHarness } from "../helpers/traefik-harness.ts";

const HOME = "home.gatehouse.test";
const SHOP = "shop.example-shop.test";
const APP = "app.client-io.test";

function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Three registrable domains, one loopback: cookies stay apart per host, as on the internet.
      "--host-resolver-rules=MAP *.test 127.0.0.1",
    ],
  });
}

function sitesEnv(port: number): Record<string, string> {
  return {
    PUBLIC_URL: `http://${HOME}:${port}`,
    SITES: `[{ domain: "${SHOP}:${port}", name: Shop }, { domain: "${APP}:${port}", branding: client }]`,
    BRANDS: "{ client: { name: Client } }",
  };
}

/** The headers the application behind the proxy received, from the echo page. */
async function echoed(context: BrowserContext, url: string) {
  const page = await context.newPage();
  const redirects: string[] = [];
  page.on("response", (response) => {
    if (response.status() >= 300 && response.status() < 400) redirects.push(response.url());
  });
  const started = performance.now();
  await page.goto(url);
  const ms = performance.now() - started;
  const finalUrl = page.url();
  const text = ((await page.locator("body").textContent()) ?? "").trim();
  await page.close();
  return { finalUrl, redirects, ms, body: text.startsWith("{") ? JSON.parse(text) : null, text };
}

async function signUpThrough(context: BrowserContext, url: string, email: string) {
  const page = await context.newPage();
  await page.goto(url);
  assert.equal(new URL(page.url()).host.split(":")[0], HOME, "the sign-in page is the home site's");
  assert.equal(new URL(page.url()).pathname, "/auth/login");
  await page.getByRole("link", { name: "Create one" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(GOOD_PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(url);
  const body = JSON.parse(((await page.locator("body").textContent()) ?? "").trim());
  await page.close();
  return body;
}

/**
 * The shipped multi-site server block (deploy/nginx/gatehouse-sites.conf) in
 * place of gatehouse.conf's, with only the listen address, the names and
 * the snippet's path substituted.
 */
function withSitesServer(site: string, port: number): string {
  const server = readFileSync("deploy/nginx/gatehouse-sites.conf", "utf8")
    .replace("listen 443 ssl;", `listen 127.0.0.1:${port};`)
    .replace(
      "server_name auth.example.com shop.example admin.example-cloud.net app.client.io;",
      `server_name ${HOME} ${SHOP} ${APP};`,
    )
    .replace("/etc/nginx/snippets/gatehouse-auth.conf", "{dir}/gatehouse-auth.conf");
  assert.ok(server.includes(`server_name ${HOME}`) && server.includes("{dir}"), "substituted");
  return `${site.slice(0, site.indexOf("\nserver {"))}\n${server}`;
}

/** Real Caddy running the shipped deploy/caddy/Caddyfile.sites, site addresses and ports substituted. */
async function startSitesCaddy(options: { gatehousePort: number; appPort: number; port: number }) {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-caddy-sites-"));
  const at = (host: string) => `http://${host}:${options.port} {`;
  const caddyfile =
    `{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n${readFileSync("deploy/caddy/Caddyfile.sites", "utf8")}`
      .replace("auth.example.com {", at(HOME))
      .replace("shop.example {", at(SHOP))
      .replace("app.client.io {", at(APP))
      .replace("admin.example-cloud.net {", at("admin.unused.test"))
      .replaceAll("127.0.0.1:4180", `127.0.0.1:${options.gatehousePort}`)
      .replaceAll(/127\.0\.0\.1:300[1-3]/g, `127.0.0.1:${options.appPort}`);
  writeFileSync(join(dir, "Caddyfile"), caddyfile);
  return startProcess({
    command: "caddy",
    args: ["run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"],
    port: options.port,
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
    onStop: () => rmSync(dir, { recursive: true, force: true }),
  });
}

const jwtPayload = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split(".")[1] as string, "base64url").toString());

describe("sites through nginx, two replicas sharing PostgreSQL and Redis", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let app: Awaited<ReturnType<typeof startEchoApp>>;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  let browser: Browser;
  let port: number;
  const databases: DatabaseHandle[] = [];
  const connections: SharedRedis[] = [];
  const replicas: RunningGatehouse[] = [];

  before(async () => {
    port = await freePort();
    [redis, app, browser] = await Promise.all([startRedis(), startEchoApp(), launch()]);
    const url = await createPostgresDatabase();
    const env = { ...sitesEnv(port), REDIS_URL: redis.url, SESSION_CACHE_TTL: "30s" };
    for (let i = 0; i < 2; i++) {
      const database = await openDatabase({ kind: "postgres", url });
      databases.push(database);
      const shared = connectRedis(loadConfig(env), createLogger("silent")) as SharedRedis;
      for (let j = 0; j < 100 && !shared.isReady(); j++)
        await new Promise((r) => setTimeout(r, 50));
      connections.push(shared);
      replicas.push(await startGatehouse(database, env, { redis: shared }));
    }
    nginx = await startNginx({
      gatehousePort: replicas[0]?.port as number,
      gatehousePorts: replicas.map((replica) => replica.port),
      appPort: app.port,
      port,
      editSite: (site) => withSitesServer(site, port),
    });
  });

  after(async () => {
    await browser?.close();
    await nginx?.stop();
    for (const replica of replicas) await replica.stop();
    for (const shared of connections) await shared.close();
    for (const database of databases) await database.close();
    await app?.stop();
    await redis?.stop();
  });

  test("sign in once, every site without a prompt, one sign-in on the account page, signed out everywhere at once", async () => {
    const context = await browser.newContext();
    const email = uniqueEmail("sites");
    const site = (host: string, path: string) => `http://${host}:${port}${path}`;

    // A satellite first: its protected page sends the browser to the home sign-in page and back.
    const first = await signUpThrough(context, site(SHOP, "/orders/7?tab=open"), email);
    assert.equal(first.headers["x-auth-email"], email);
    assert.equal(first.headers["x-auth-method"], "password");

    const home = await echoed(context, site(HOME, "/projects"));
    assert.equal(home.finalUrl, site(HOME, "/projects"));
    assert.equal(home.redirects.length, 0, "the home site has its session already");

    // The third site: the hop, without a prompt.
    const third = await echoed(context, site(APP, "/dashboard?x=1"));
    assert.equal(third.finalUrl, site(APP, "/dashboard?x=1"));
    // The proxy's usual sign-in redirect, then the hop's three: start → home → callback → page.
    assert.equal(third.redirects.length, 4, `redirects: ${third.redirects.join(" → ")}`);
    assert.ok(third.redirects[1]?.startsWith(site(APP, "/auth/sites/start")));
    assert.ok(third.redirects[2]?.startsWith(site(HOME, "/auth/sites/authorize")));
    assert.ok(third.redirects[3]?.startsWith(site(APP, "/auth/sites/callback")));
    console.log(
      `# the hop to a third site took ${third.ms.toFixed(0)} ms, ${third.redirects.length} redirects`,
    );

    // The same identity everywhere; each x-auth-jwt names its own host.
    for (const name of [
      "x-auth-user-id",
      "x-auth-email",
      "x-auth-email-verified",
      "x-auth-name",
      "x-auth-roles",
      "x-auth-method",
      "x-auth-authenticated-at",
    ]) {
      assert.equal(home.body.headers[name], first.headers[name], name);
      assert.equal(third.body.headers[name], first.headers[name], name);
    }
    assert.equal(jwtPayload(first.headers["x-auth-jwt"]).aud, `${SHOP}:${port}`);
    assert.equal(jwtPayload(home.body.headers["x-auth-jwt"]).aud, `${HOME}:${port}`);
    assert.equal(jwtPayload(third.body.headers["x-auth-jwt"]).aud, `${APP}:${port}`);

    // Each site holds its own host-only cookie; none is shared.
    const cookies = await context.cookies();
    const sessionCookies = cookies.filter((cookie) => cookie.name === "gatehouse_session");
    assert.deepEqual(
      sessionCookies.map((cookie) => cookie.domain).sort(),
      [APP, HOME, SHOP].sort(),
    );
    assert.equal(new Set(sessionCookies.map((cookie) => cookie.value)).size, 3);

    // Visiting again costs nothing: every site answers at once.
    for (const host of [HOME, SHOP, APP]) {
      const again = await echoed(context, site(host, "/again"));
      assert.equal(again.redirects.length, 0, host);
      assert.equal(again.body.headers["x-auth-email"], email);
    }

    // The account page lists the sign-in once, with the sites it reaches.
    const account = await context.newPage();
    await account.goto(site(HOME, "/auth/account"));
    const sessionsTable = account.locator(
      "h2:has-text('Active sessions') + .table-scroll tbody tr",
    );
    assert.equal(await sessionsTable.count(), 1, "one sign-in, one row");
    const section = await account.locator("main").textContent();
    assert.match(section ?? "", /Sites you are signed in to/);
    assert.ok(section?.includes(`${SHOP}:${port}`) && section.includes(`${APP}:${port}`));
    await account.close();

    // Both replicas hold every site's session in memory before the sign-out.
    const byHost = new Map(sessionCookies.map((cookie) => [cookie.domain, cookie.value]));
    const ask = (replica: RunningGatehouse, host: string) =>
      fetch(`${replica.url}/_resolve`, {
        headers: {
          "x-original-uri": "/after",
          "x-original-method": "GET",
          "x-forwarded-proto": "http",
          "x-forwarded-host": `${host}:${port}`,
          cookie: `gatehouse_session=${byHost.get(host)}`,
        },
      }).then((response) => response.status);
    for (const replica of replicas)
      for (const host of [HOME, SHOP, APP]) assert.equal(await ask(replica, host), 200);

    // A client's own X-Forwarded-Host cannot move a request to another site: nginx sets it.
    const spoofed = await new Promise<{ status?: number; location?: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/auth/sites/start",
          headers: { host: `${SHOP}:${port}`, "x-forwarded-host": `${APP}:${port}` },
        },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode, location: res.headers.location });
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.equal(spoofed.status, 302);
    assert.equal(new URL(spoofed.location as string).searchParams.get("host"), `${SHOP}:${port}`);

    // Sign out on the third site.
    const page = await context.newPage();
    await page.goto(site(APP, "/dashboard"));
    const signedOut = page.waitForResponse((response) => response.url().endsWith("/auth/logout"));
    await page.evaluate(() => {
      const form = document.createElement("form");
      form.method = "post";
      form.action = "/auth/logout";
      document.body.append(form);
      form.submit();
    });
    assert.equal((await signedOut).status(), 303);
    const loggedOutAt = performance.now();
    // Rounds of parallel asks, every pair of replica and site; a pair counts as
    // refusing when a request started within 100 ms of the sign-out got a 401.
    let pending = replicas.flatMap((replica) =>
      [HOME, SHOP, APP].map((host) => ({ replica, host })),
    );
    let lastRoundMs = 0;
    while (pending.length > 0 && performance.now() - loggedOutAt < 100) {
      lastRoundMs = performance.now() - loggedOutAt;
      const answers = await Promise.all(pending.map((item) => ask(item.replica, item.host)));
      pending = pending.filter((_, i) => answers[i] !== 401);
    }
    assert.deepEqual(
      pending.map((item) => `${item.replica.port}/${item.host}`),
      [],
      "still signed in 100 ms after the sign-out",
    );
    console.log(
      `# every site refused at both replicas to requests sent ${lastRoundMs.toFixed(0)} ms after the sign-out`,
    );
    await page.close();

    // In the browser too: every site sends it to sign in again.
    for (const host of [HOME, SHOP, APP]) {
      const after = await echoed(context, site(host, "/again"));
      assert.equal(new URL(after.finalUrl).pathname, "/auth/login", host);
    }
    await context.close();
  });
});

describe("sites through Caddy's shipped multi-site example (embedded database)", () => {
  let database: DatabaseHandle;
  let gatehouse: RunningGatehouse;
  let app: Awaited<ReturnType<typeof startEchoApp>>;
  let caddy: Awaited<ReturnType<typeof startSitesCaddy>>;
  let browser: Browser;
  let port: number;

  before(async () => {
    port = await freePort();
    [database, app, browser] = await Promise.all([
      openDatabase({ kind: "pglite" }),
      startEchoApp(),
      launch(),
    ]);
    gatehouse = await startGatehouse(database, sitesEnv(port));
    caddy = await startSitesCaddy({ gatehousePort: gatehouse.port, appPort: app.port, port });
  });

  after(async () => {
    await browser?.close();
    await caddy?.stop();
    await gatehouse?.stop();
    await app?.stop();
    await database?.close();
  });

  test("sign in once on the way to one satellite, then the other without a prompt", async () => {
    const context = await browser.newContext();
    const email = uniqueEmail("caddy-sites");
    const site = (host: string, path: string) => `http://${host}:${port}${path}`;
    const first = await signUpThrough(context, site(SHOP, "/inside?a=1"), email);
    assert.equal(first.headers["x-auth-email"], email);
    const visit = await echoed(context, site(APP, "/inside"));
    assert.equal(visit.finalUrl, site(APP, "/inside"));
    assert.equal(visit.body.headers["x-auth-user-id"], first.headers["x-auth-user-id"]);
    assert.equal(
      visit.body.headers["x-auth-authenticated-at"],
      first.headers["x-auth-authenticated-at"],
    );
    // Caddy passes gatehouse's own 302 (?redirect=true), then the hop's three.
    assert.equal(visit.redirects.length, 4, `redirects: ${visit.redirects.join(" → ")}`);
    // The application never sees gatehouse's cookie.
    assert.doesNotMatch(visit.body.headers.cookie ?? "", /gatehouse_session/);
    await context.close();
  });
});

describe("sites through the Traefik ForwardAuth harness (embedded database)", () => {
  let database: DatabaseHandle;
  let gatehouse: RunningGatehouse;
  let app: Awaited<ReturnType<typeof startEchoApp>>;
  let traefik: Awaited<ReturnType<typeof startTraefikHarness>>;
  let browser: Browser;
  let port: number;

  before(async () => {
    port = await freePort();
    [database, app, browser] = await Promise.all([
      openDatabase({ kind: "pglite" }),
      startEchoApp(),
      launch(),
    ]);
    gatehouse = await startGatehouse(database, sitesEnv(port));
    traefik = await startTraefikHarness({ gatehousePort: gatehouse.port, appPort: app.port, port });
  });

  after(async () => {
    await browser?.close();
    await traefik?.stop();
    await gatehouse?.stop();
    await app?.stop();
    await database?.close();
  });

  test("a satellite first, then home and the other satellite without a prompt", async () => {
    const context = await browser.newContext();
    const site = (host: string, path: string) => `http://${host}:${port}${path}`;
    const first = await signUpThrough(context, site(APP, "/reports"), uniqueEmail("traefik"));
    for (const host of [HOME, SHOP]) {
      const visit = await echoed(context, site(host, "/inside"));
      assert.equal(visit.finalUrl, site(host, "/inside"), host);
      assert.equal(visit.body.headers["x-auth-user-id"], first.headers["x-auth-user-id"]);
      assert.ok(visit.redirects.length <= 4, `redirects: ${visit.redirects.join(" → ")}`);
    }
    await context.close();
  });
});
