// A person's journey with a second factor, in headless Chromium through real
// nginx (the shipped config): a page that needs a second factor sends a user
// without one to set it up (QR code, key as text, first code), then back to
// the page, which receives x-auth-mfa; signing in again asks for the factor
// (a recovery code here) before the page opens. Forms submitted with Enter.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { totpCodeAt } from "../../src/mfa/totp.ts";
import { type BrowserStack, startBrowserStack } from "../helpers/browser-stack.ts";
import { GOOD_PASSWORD, uniqueEmail } from "../helpers/gatehouse.ts";

let stack: BrowserStack;
let browser: Browser;
let base: string;

before(async () => {
  stack = await startBrowserStack({ env: { RULES: "[{ path: /admin/**, mfa: true }]" } });
  ({ browser, base } = stack);
});

after(() => stack?.stop());

test("set up an app when a page needs it, then sign in again with a recovery code", async () => {
  const page = await browser.newPage();
  const email = uniqueEmail("browser-mfa");
  const echoed = async () =>
    JSON.parse(((await page.locator("body").textContent()) ?? "").trim()).headers;

  await page.goto(`${base}/auth/register`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(GOOD_PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/auth\/account/);

  // No factor yet: the page sends the user to set one up, not to a step-up it cannot pass.
  await page.goto(`${base}/admin/panel?tab=users`);
  assert.equal(new URL(page.url()).pathname, "/auth/mfa/setup");
  assert.equal(new URL(page.url()).searchParams.get("rd"), `${base}/admin/panel?tab=users`);
  assert.equal(await page.locator("svg").count(), 1, "the QR code, drawn on the server");
  const secret = ((await page.locator("#totp-secret").textContent()) ?? "").replaceAll(" ", "");
  assert.match(secret, /^[A-Z2-7]{32}$/);
  await page.getByLabel("6-digit code from your app").fill(totpCodeAt(secret, Date.now()));
  await page.keyboard.press("Enter");
  await page.waitForSelector("#recovery-codes");
  const codes = await page.locator("#recovery-codes code").allTextContents();
  assert.equal(codes.length, 10);
  await page.getByRole("link", { name: "Continue" }).click();
  await page.waitForURL(`${base}/admin/panel?tab=users`);
  let headers = await echoed();
  assert.equal(headers["x-auth-mfa"], "true");
  assert.equal(headers["x-auth-amr"], "pwd,otp,mfa");

  // The account page lists the factor.
  await page.goto(`${base}/auth/account`);
  assert.ok(await page.getByRole("heading", { name: "Second factors" }).isVisible());
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL(/\/auth\/login/);

  // Signing in again: the password, then the second factor, then the page.
  await page.goto(`${base}/admin/panel`);
  await page.waitForURL(/\/auth\/login/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(GOOD_PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/auth\/mfa\?/);
  // Half signed in: the application is still out of reach.
  const half = await page.context().request.get(`${base}/admin/panel`, { maxRedirects: 0 });
  assert.equal(half.status(), 401);
  await page.getByLabel("One of your recovery codes").fill(codes[0] ?? "");
  await page.keyboard.press("Enter");
  await page.waitForURL(`${base}/admin/panel`);
  headers = await echoed();
  assert.equal(headers["x-auth-email"], email);
  assert.equal(headers["x-auth-mfa"], "true");
  await page.close();
});
