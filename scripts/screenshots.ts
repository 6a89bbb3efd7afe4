// `npm run screenshots`: pictures of the main hosted pages for the README.
// Starts gatehouse on a temporary data directory, signs up a sample user, and
// writes docs/screenshots/<page>-<width>-<scheme>.png for the login, register,
// account, authenticator-app setup and second-factor pages, at phone (390 px)
// and desktop (1280 px) width, in the light and dark colour schemes (the
// browser's prefers-color-scheme, emulated). Each picture is clipped to the
// page's card, so the files stay small. Needs Chromium (CHROMIUM_PATH).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { openDatabase } from "../src/db/client.ts";
import { totpCodeAt } from "../src/mfa/totp.ts";
import { launchChromium } from "../test/helpers/chromium.ts";
import { markVerified, startGatehouse } from "../test/helpers/gatehouse.ts";
import { freePort } from "../test/helpers/ports.ts";

const OUT = join(import.meta.dirname, "..", "docs", "screenshots");
const WIDTHS = [390, 1280] as const;
const SCHEMES = ["light", "dark"] as const;
/** The tallest picture, in CSS pixels: the account page goes on below. */
const MAX_HEIGHT = 2000;
const EMAIL = "ada@example.com";
const PASSWORD = "correct horse battery staple 1843";

/** The card (`main`) with a margin of background around it, at most MAX_HEIGHT tall. */
async function shoot(page: Page, name: string, width: number, scheme: string) {
  const box = await page.locator("main").boundingBox();
  if (!box) throw new Error(`${name}: no main element on ${page.url()}`);
  const margin = 24;
  const x = Math.max(0, box.x - margin);
  const y = Math.max(0, box.y - margin);
  const right = Math.min(width, box.x + box.width + margin);
  const path = join(OUT, `${name}-${width}-${scheme}.png`);
  await page.screenshot({
    path,
    fullPage: true,
    clip: { x, y, width: right - x, height: Math.min(MAX_HEIGHT, box.height + 2 * margin) },
  });
  console.log(path);
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "gatehouse-screenshots-"));
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const database = await openDatabase({ kind: "pglite", dataDir: join(dataDir, "db") });
  const gatehouse = await startGatehouse(
    database,
    { PUBLIC_URL: base, SITE_NAME: "Example Co", OUTBOX_DIR: join(dataDir, "outbox") },
    { port },
  );
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    mkdirSync(OUT, { recursive: true });
    const context = await browser.newContext({ deviceScaleFactor: 1 });
    const page = await context.newPage();
    const every = async (name: string, prepare?: () => Promise<void>) => {
      for (const width of WIDTHS)
        for (const scheme of SCHEMES) {
          await page.setViewportSize({ width, height: 900 });
          await page.emulateMedia({ colorScheme: scheme });
          await prepare?.();
          await shoot(page, name, width, scheme);
        }
    };
    const account = `${base}/auth/account`;

    await page.goto(`${base}/auth/login`);
    await every("login");
    await page.goto(`${base}/auth/register`);
    await every("register");

    // The sample user: registered through the form, address confirmed, an API key.
    await page.locator("#email").fill(EMAIL);
    await page.locator("#name").fill("Ada Lovelace");
    await page.locator("#password").fill(PASSWORD);
    await Promise.all([
      page.waitForURL(/\/auth\//),
      page.locator("main form [type=submit]").click(),
    ]);
    await markVerified(gatehouse, EMAIL);
    const key = await context.request.post(`${base}/auth/api-keys`, {
      data: { name: "deploy script" },
    });
    if (key.status() !== 201) throw new Error(`API key: ${key.status()} ${await key.text()}`);

    // The authenticator app: its setup page, then set up for the account and step-up pages.
    await page.goto(`${base}/auth/mfa/setup`);
    await every("mfa-setup");
    const secret = ((await page.locator("#totp-secret").textContent()) ?? "").replaceAll(" ", "");
    await page.locator("#totp-code").fill(totpCodeAt(secret, Date.now()));
    await Promise.all([
      page.waitForURL(/\/auth\//),
      page.locator("main form [type=submit]").click(),
    ]);
    await page.goto(account);
    await every("account");

    await page.goto(`${base}/auth/logout`);
    await Promise.all([page.waitForURL(/\/auth\/login/), page.locator("main form button").click()]);
    await page.locator("#email").fill(EMAIL);
    await page.locator("#password").fill(PASSWORD);
    await Promise.all([
      page.waitForURL(/\/auth\/mfa/),
      page.locator("form[action^='/auth/login'] [type=submit]").click(),
    ]);
    await every("mfa");
  } finally {
    await browser?.close();
    await gatehouse.stop();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
