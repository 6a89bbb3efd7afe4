// The hosted pages without a mouse, without JavaScript and on a 320 px
// screen, in headless Chromium: signing in with Tab, typing and Enter only,
// then tabbing through every control of a full account page, each showing
// its focus; registering, signing out (from GET /auth/logout's button) and
// signing in with scripts disabled; and no horizontal scroll at 320 px.
// Elements are found by id and attribute, not by their (translated) text.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { users } from "../../src/db/schema.ts";
import { type FocusedElement, focusedElement, launchChromium } from "../helpers/chromium.ts";
import {
  GOOD_PASSWORD,
  login,
  markVerified,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { freePort } from "../helpers/ports.ts";

let database: DatabaseHandle;
let gatehouse: RunningGatehouse;
let browser: Browser;
/** A host name, so the login page offers passkeys (and loads their script) as it would in production. */
let base: string;
let account: string;

before(async () => {
  const port = await freePort();
  base = `http://localhost:${port}`;
  account = `${base}/auth/account`;
  database = await openDatabase({ kind: "pglite" });
  gatehouse = await startGatehouse(
    database,
    {
      PUBLIC_URL: base,
      // A provider, so the pages carry its links and buttons too (never followed here).
      OAUTH_PROVIDERS:
        '[{ id: idp, type: oidc, issuer: "http://127.0.0.1:9", client_id: x, client_secret_env: IDP_SECRET, display_name: "Test IdP" }]',
      IDP_SECRET: "s",
    },
    { port },
  );
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await gatehouse?.stop();
  await database?.close();
});

/**
 * An account whose page has every kind of control: a confirmed address, an
 * API key (its revoke button), a second session (its sign-out button). The
 * browser of `context` is signed in to it.
 */
async function fullAccount(context: BrowserContext): Promise<string> {
  const email = uniqueEmail("robust");
  await register(base, email);
  await markVerified(gatehouse, email);
  assert.equal((await login(base, email)).status, 200, "a second session elsewhere");
  const signIn = await context.request.post(`${base}/auth/login`, {
    data: { email, password: GOOD_PASSWORD },
  });
  assert.equal(signIn.status(), 200);
  const key = await context.request.post(`${base}/auth/api-keys`, { data: { name: "ci" } });
  assert.equal(key.status(), 201, await key.text());
  return email;
}

const describe = (element: FocusedElement) => `${element.selector} “${element.name.slice(0, 40)}”`;

test("keyboard only: sign in with Tab, typing and Enter; every control of the account page takes a visible focus", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const email = uniqueEmail("keys");
  await register(base, email);

  await page.goto(`${base}/auth/login?rd=${encodeURIComponent(account)}`);
  const tabTo = async (id: string) => {
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press("Tab");
      const focused = await focusedElement(page);
      if (focused.selector.startsWith(`input#${id}`)) {
        assert.notEqual(focused.outline, "none", `${id} shows its focus`);
        return;
      }
    }
    assert.fail(`Tab never reached #${id}`);
  };
  await tabTo("email");
  await page.keyboard.type(email);
  await tabTo("password");
  await page.keyboard.type(GOOD_PASSWORD);
  await Promise.all([page.waitForURL(account), page.keyboard.press("Enter")]);
  await context.close();

  // A full account page: Tab from the top until the focus leaves the page.
  const signedIn = await browser.newContext();
  const full = await signedIn.newPage();
  await fullAccount(signedIn);
  await full.goto(account);
  const noFocus: string[] = [];
  const seen: string[] = [];
  for (let i = 0; i < 200; i++) {
    await full.keyboard.press("Tab");
    const focused = await focusedElement(full);
    if (focused.selector === "body") break;
    // Marked in the page, to find afterwards any control Tab never reached; round again: done.
    const again = await full.evaluate(() => {
      const element = document.activeElement;
      const reached = element?.hasAttribute("data-reached") ?? false;
      element?.setAttribute("data-reached", "");
      return reached;
    });
    if (again) break;
    seen.push(focused.selector);
    if (focused.outline === "none" && focused.boxShadow === "none") noFocus.push(describe(focused));
    if (!focused.visible) noFocus.push(`${describe(focused)} (not visible)`);
  }
  assert.deepEqual(noFocus, [], "every focused control shows its focus");
  assert.ok(seen.length >= 10, `the focus went round: ${seen.join(", ")}`);
  const unreached = await full.evaluate(() =>
    Array.from(
      document.querySelectorAll<HTMLElement>(
        "a[href], button, input:not([type=hidden]), select, textarea",
      ),
    )
      .filter((element) => !element.hidden && element.getClientRects().length > 0)
      .filter((element) => !element.hasAttribute("data-reached"))
      .map((element) => element.outerHTML.slice(0, 120)),
  );
  assert.deepEqual(unreached, [], "Tab reaches every control");
  const buttons = await full.locator("button[data-reached]").count();
  assert.ok(buttons >= 4, `the buttons (sign out, revoke the key and the session...): ${buttons}`);
  assert.ok((await full.locator("form[action$='/revoke'] button[data-reached]").count()) >= 2);
  assert.equal(await full.locator("form[action='/auth/logout'] button[data-reached]").count(), 1);

  // Enter on the focused sign-out button signs out.
  await full.locator("form[action='/auth/logout'] button").focus();
  await Promise.all([full.waitForURL(/\/auth\/login/), full.keyboard.press("Enter")]);
  await signedIn.close();
});

test("without JavaScript: register, sign out from the sign-out page, sign in, sign out from the account page", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const email = uniqueEmail("nojs");
  const rd = `?rd=${encodeURIComponent(account)}`;

  await page.goto(`${base}/auth/register${rd}`);
  await page.locator("#email").fill(email);
  await page.locator("#password").fill(GOOD_PASSWORD);
  await Promise.all([page.waitForURL(account), page.locator("main form [type=submit]").click()]);

  // GET /auth/logout: the page's button posts the sign-out, with the return target.
  await page.goto(`${base}/auth/logout${rd}`);
  const form = page.locator("form[method=post][action^='/auth/logout']");
  assert.equal(await form.getAttribute("action"), `/auth/logout${rd}`);
  await page.goto(`${base}/auth/logout?rd=${encodeURIComponent("https://evil.example/")}`);
  assert.equal(await form.getAttribute("action"), "/auth/logout", "a foreign target is dropped");
  await Promise.all([page.waitForURL(/\/auth\/login/), form.locator("button").click()]);
  assert.equal((await context.cookies()).length, 0, "the session cookie is gone");
  await page.goto(account);
  assert.equal(new URL(page.url()).pathname, "/auth/login", "signed out");

  // The passkey button needs the script: shown with it, hidden without (the forms work anyway).
  assert.equal(await page.locator("[data-passkey-button]").isVisible(), false);
  const scripted = await browser.newPage();
  await scripted.goto(`${base}/auth/login`);
  await scripted.locator("[data-passkey-button]").waitFor({ state: "visible" });
  await scripted.close();
  await page.goto(`${base}/auth/login${rd}`);
  await page.locator("#email").fill(email);
  await page.locator("#password").fill(GOOD_PASSWORD);
  await Promise.all([
    page.waitForURL(account),
    page.locator(`form[action^='/auth/login'] [type=submit]`).click(),
  ]);
  await Promise.all([
    page.waitForURL(/\/auth\/login/),
    page.locator("form[action='/auth/logout'] button").click(),
  ]);
  await page.goto(account);
  assert.equal(new URL(page.url()).pathname, "/auth/login", "signed out again");
  await context.close();
});

/** How far the page scrolls sideways, and the outermost elements that stick out past the viewport. */
async function horizontalOverflow(page: Page): Promise<{ over: number; culprits: string[] }> {
  return page.evaluate(() => {
    const over = (document.scrollingElement?.scrollWidth ?? 0) - window.innerWidth;
    const culprits = Array.from(document.body.querySelectorAll<HTMLElement>("*"))
      .filter((element) => element.getBoundingClientRect().right > window.innerWidth)
      .filter((element) => !element.parentElement?.closest(".table-scroll"))
      .filter(
        (element) =>
          (element.parentElement?.getBoundingClientRect().right ?? 0) <= window.innerWidth,
      )
      .map((element) => element.outerHTML.slice(0, 80));
    return { over, culprits };
  });
}

test("times on the account page: the browser's own zone where scripts run, UTC named where they do not", async () => {
  const shown = async (javaScriptEnabled: boolean) => {
    const context = await browser.newContext({ timezoneId: "Asia/Tokyo", javaScriptEnabled });
    await fullAccount(context);
    const page = await context.newPage();
    await page.goto(account);
    const times = page.locator("time[data-local]");
    assert.ok((await times.count()) >= 2, "the sessions' times");
    const text = (await times.first().textContent()) ?? "";
    await context.close();
    return text;
  };
  assert.match(await shown(true), /GMT\+9/);
  assert.match(await shown(false), /UTC/);
});

test("320 px wide: the login, register, account and admin pages scroll only vertically", async () => {
  const context = await browser.newContext({ viewport: { width: 320, height: 640 } });
  const page = await context.newPage();
  const email = await fullAccount(context);
  const [user] = await database.db.select().from(users).where(eq(users.email, email));
  await gatehouse.gatehouse.users.setRoles(user?.id as string, ["admin"]);
  const overflowing: string[] = [];
  for (const path of [
    "/auth/account",
    "/auth/admin/users",
    "/auth/admin/audit",
    "/auth/admin/invitations",
    "/auth/mfa/setup",
  ]) {
    await page.goto(`${base}${path}`);
    const { over, culprits } = await horizontalOverflow(page);
    if (over > 0) overflowing.push(`${path}: ${over} px too wide: ${culprits.join(" | ")}`);
  }
  const anonymous = await (
    await browser.newContext({ viewport: { width: 320, height: 640 } })
  ).newPage();
  for (const path of ["/auth/login", "/auth/register", "/auth/forgot-password", "/auth/logout"]) {
    await anonymous.goto(`${base}${path}`);
    const { over, culprits } = await horizontalOverflow(anonymous);
    if (over > 0) overflowing.push(`${path}: ${over} px too wide: ${culprits.join(" | ")}`);
  }
  assert.deepEqual(overflowing, []);
  await context.close();
});
