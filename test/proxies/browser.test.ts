// A person's journey in headless Chromium through real nginx: open a
// protected page, land on the login page, register, come back to the page
// showing the identity the application received, sign out.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Browser, chromium } from "playwright-core";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { startEchoApp } from "../helpers/echo-app.ts";
import {
  GOOD_PASSWORD,
  type RunningGatehouse,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { startNginx } from "../helpers/nginx.ts";
import { freePort } from "../helpers/ports.ts";

let database: DatabaseHandle;
let gatehouse: RunningGatehouse;
let app: Awaited<ReturnType<typeof startEchoApp>>;
let nginx: Awaited<ReturnType<typeof startNginx>>;
let browser: Browser;
let base: string;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  database = await openDatabase({ kind: "pglite" });
  gatehouse = await startGatehouse(database, { PUBLIC_URL: base });
  app = await startEchoApp();
  nginx = await startNginx({ gatehousePort: gatehouse.port, appPort: app.port, port });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  await nginx?.stop();
  await app?.stop();
  await gatehouse?.stop();
  await database?.close();
});

test("open a protected page, register, come back signed in, sign out", async () => {
  const page = await browser.newPage();
  const email = uniqueEmail("browser");

  await page.goto(`${base}/projects/42?view=board&sort=due`);
  assert.equal(new URL(page.url()).pathname, "/auth/login", "redirected to the login page");
  assert.equal(
    new URL(page.url()).searchParams.get("rd"),
    `${base}/projects/42?view=board&sort=due`,
  );

  await page.getByRole("link", { name: "Create one" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(GOOD_PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(`${base}/projects/42?view=board&sort=due`);

  const echoed = JSON.parse(((await page.locator("body").textContent()) ?? "").trim());
  assert.match(echoed.headers["x-auth-user-id"], /^[0-9a-f-]{36}$/);
  assert.equal(echoed.headers["x-auth-email"], email);

  await page.goto(`${base}/auth/account`);
  assert.ok((await page.content()).includes(email));
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL(/\/auth\/login/);

  await page.goto(`${base}/projects/42`);
  assert.equal(new URL(page.url()).pathname, "/auth/login", "signed out: back to the login page");
  await page.close();
});
