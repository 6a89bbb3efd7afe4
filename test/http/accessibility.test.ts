// Every hosted page, in each of its states, passes axe-core in headless
// Chromium with no violations: empty forms, errors shown, notices, the
// account page with sessions, API keys, a passkey and an authenticator app,
// the second-factor pages, the email links (working and dead), the
// invitation, the admin console, sign-out and the message pages. A
// violation is reported with its rule, the element and the page state. And
// an error about one field is tied to that field (aria-invalid,
// aria-describedby), announced (role="alert").
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { users } from "../../src/db/schema.ts";
import { totpCodeAt } from "../../src/mfa/totp.ts";
import { addVirtualAuthenticator, axeViolations, launchChromium } from "../helpers/chromium.ts";
import {
  GOOD_PASSWORD,
  login,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { freePort } from "../helpers/ports.ts";
import { linkTo, type RunningSmtp, startSmtp } from "../helpers/smtp.ts";

let database: DatabaseHandle;
let gatehouse: RunningGatehouse;
let smtp: RunningSmtp;
let browser: Browser;
/** A host name, not an address: browsers refuse passkeys on IP addresses. */
let base: string;

before(async () => {
  const port = await freePort();
  base = `http://localhost:${port}`;
  database = await openDatabase({ kind: "pglite" });
  smtp = await startSmtp();
  gatehouse = await startGatehouse(
    database,
    { PUBLIC_URL: base, SMTP_URL: smtp.url, SITE_NAME: "Example Co" },
    { port },
  );
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await gatehouse?.stop();
  await database?.close();
  await smtp?.stop();
});

/**
 * Collects axe-core's violations page state by page state, in the light and
 * the dark colour scheme (contrast differs); the test asserts none at its end.
 */
function auditor() {
  const found: string[] = [];
  return {
    async check(page: Page, state: string) {
      for (const scheme of ["light", "dark"] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        for (const violation of await axeViolations(page))
          found.push(`[${state}, ${scheme}] ${new URL(page.url()).pathname}: ${violation}`);
      }
      await page.emulateMedia({ colorScheme: null });
    },
    assertNone() {
      assert.equal(found.length, 0, `axe-core violations:\n${found.join("\n")}`);
    },
  };
}

/**
 * Submits the form whose action starts with `action` with its submit button,
 * and waits for the answer; the browser's own checks are off, so the
 * server's error states show.
 */
async function submit(page: Page, action: string) {
  const form = page.locator(`form[action^="${action}"]`).first();
  await form.evaluate((element) => element.setAttribute("novalidate", ""));
  await Promise.all([page.waitForNavigation(), form.locator("[type=submit]").first().click()]);
}

async function ariaOf(page: Page, selector: string) {
  const field = page.locator(selector);
  return {
    invalid: await field.getAttribute("aria-invalid"),
    describedBy: (await field.getAttribute("aria-describedby"))?.split(" ") ?? [],
  };
}

/** The next mailed link to `path` for `to`, past notices (a passkey added, a new factor). */
async function mailedLink(to: string, path: string): Promise<string> {
  for (;;) {
    const mail = await smtp.next(to);
    if (mail.text.includes(path)) return linkTo(mail, path).href;
  }
}

async function userId(email: string): Promise<string> {
  const [row] = await database.db.select().from(users).where(eq(users.email, email));
  assert.ok(row, email);
  return row.id;
}

test("the sign-in pages, empty, with errors, and their dead links", async () => {
  const axe = auditor();
  const page = await browser.newPage();

  await page.goto(`${base}/auth/login`);
  await axe.check(page, "login");
  assert.equal(await page.locator("#email").getAttribute("autocomplete"), "username webauthn");
  assert.equal(await page.locator("#password").getAttribute("autocomplete"), "current-password");
  await page.locator("#email").fill(uniqueEmail("nobody"));
  await page.locator("#password").fill("not the password");
  await submit(page, "/auth/login");
  await axe.check(page, "login, failed");
  assert.equal(await page.getByRole("alert").count(), 1, "the error is announced");
  await page.locator("#email").fill("not an address");
  await submit(page, "/auth/login");
  await axe.check(page, "login, invalid address");
  assert.deepEqual(await ariaOf(page, "#email"), { invalid: "true", describedBy: ["form-error"] });
  assert.equal((await ariaOf(page, "#password")).invalid, null, "only the field at fault");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "email");

  await page.goto(`${base}/auth/register`);
  await axe.check(page, "register");
  assert.equal(await page.locator("#email").getAttribute("autocomplete"), "username");
  assert.equal(await page.locator("#password").getAttribute("autocomplete"), "new-password");
  await page.locator("#email").fill(uniqueEmail("short"));
  await page.locator("#password").fill("short");
  await submit(page, "/auth/register");
  await axe.check(page, "register, password refused");
  assert.deepEqual(await ariaOf(page, "#password"), {
    invalid: "true",
    describedBy: ["form-error", "password-hint"],
  });
  assert.equal((await ariaOf(page, "#email")).invalid, null);
  assert.equal(await page.locator("#form-error[role=alert]").count(), 1);

  await page.goto(`${base}/auth/forgot-password`);
  await axe.check(page, "forgot password");
  await page.locator("#email").fill("no");
  await submit(page, "/auth/forgot-password");
  await axe.check(page, "forgot password, invalid address");
  assert.equal((await ariaOf(page, "#email")).invalid, "true");
  await page.locator("#email").fill(uniqueEmail("unknown"));
  await submit(page, "/auth/forgot-password");
  await axe.check(page, "check your email (message page)");

  for (const [path, state] of [
    ["/auth/reset-password?token=bogus", "reset password, dead link"],
    ["/auth/verify-email?token=bogus", "confirm address, dead link"],
    ["/auth/invitation?token=bogus", "invitation, dead link"],
    ["/auth/logout", "sign out page, signed out"],
    ["/auth/mfa", "second factor, nobody half signed in"],
  ] as const) {
    await page.goto(`${base}${path}`);
    await axe.check(page, state);
  }
  await page.close();
  axe.assertNone();
});

test("the account page with everything on it, the second-factor pages and the admin console", async () => {
  const axe = auditor();
  const context: BrowserContext = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const authenticatorId = await addVirtualAuthenticator(cdp);
  const email = uniqueEmail("a11y");

  await page.goto(`${base}/auth/register`);
  await page.locator("#email").fill(email);
  await page.locator("#name").fill("Ada Lovelace");
  await page.locator("#password").fill(GOOD_PASSWORD);
  await submit(page, "/auth/register");
  await page.waitForURL(/\/auth\/account/);
  await axe.check(page, "account, address not confirmed");

  // The mailed link: its page, then the confirmation.
  await page.goto(await mailedLink(email, "/verify-email"));
  await axe.check(page, "confirm address");
  await submit(page, "/auth/verify-email");
  await axe.check(page, "address confirmed (message page)");

  // An admin, with another account to act on and a second session.
  await gatehouse.gatehouse.users.setRoles(await userId(email), ["admin"]);
  const other = uniqueEmail("other");
  await register(base, other);
  assert.equal((await login(base, email)).status, 200);

  await page.goto(`${base}/auth/account`);
  await page.locator("#key-name").fill("deploy script");
  await submit(page, "/auth/api-keys");
  assert.equal(await page.locator("#new-api-key").count(), 1);
  await axe.check(page, "account, a new API key shown");
  await page.locator("#current-password").fill("not my password");
  await page.locator("#new-password").fill(`${GOOD_PASSWORD} 2`);
  await submit(page, "/auth/password");
  await axe.check(page, "account, password change refused");

  await page.goto(`${base}/auth/account`);
  await page.locator("#passkey-new-name").fill("Laptop");
  await page.locator("[data-passkey=register] [data-passkey-button]").click();
  await page.locator("p.notice[role=status]").waitFor();
  await axe.check(page, "account, passkey added");
  // Gone again, so the login page's passkey autofill cannot sign in by itself later.
  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });

  await page.goto(`${base}/auth/admin/users`);
  await axe.check(page, "admin, users");
  await page.goto(`${base}/auth/admin/users?q=nobody-at-all`);
  await axe.check(page, "admin, users, none found");
  await page.goto(`${base}/auth/admin/users/${encodeURIComponent(await userId(other))}`);
  await axe.check(page, "admin, one user");
  await submit(page, `/auth/admin/users/${encodeURIComponent(await userId(other))}/disable`);
  await axe.check(page, "admin, confirm an action");
  await page.goto(`${base}/auth/admin/invitations`);
  await axe.check(page, "admin, invitations");
  const invitee = uniqueEmail("invitee");
  await page.locator("#invite-email").fill(invitee);
  await page.locator("#invite-roles").fill("editor");
  await submit(page, "/auth/admin/invitations");
  await axe.check(page, "admin, invitations, one sent");
  await Promise.all([
    page.waitForNavigation(),
    page.locator("form[action$='/resend'] [type=submit]").first().click(),
  ]);
  await axe.check(page, "admin, confirm an invitation's resend");
  await page.goto(`${base}/auth/admin/audit`);
  await axe.check(page, "admin, audit trail");

  // The invitee's page, in another browser.
  const guest = await browser.newPage();
  await guest.goto(await mailedLink(invitee, "/invitation"));
  await axe.check(guest, "invitation");
  await guest.locator("#password").fill("short");
  await submit(guest, "/auth/invitation");
  await axe.check(guest, "invitation, password refused");
  assert.equal((await ariaOf(guest, "#password")).invalid, "true");
  await guest.close();

  // An authenticator app: its setup, a wrong code, the recovery codes.
  await page.goto(`${base}/auth/mfa/setup`);
  await axe.check(page, "authenticator app setup");
  await page.locator("#totp-code").fill("000000");
  await submit(page, "/auth/mfa/totp/confirm");
  await axe.check(page, "authenticator app setup, wrong code");
  assert.equal((await ariaOf(page, "#totp-code")).invalid, "true");
  const secret = ((await page.locator("#totp-secret").textContent()) ?? "").replaceAll(" ", "");
  await page.locator("#totp-code").fill(totpCodeAt(secret, Date.now()));
  await submit(page, "/auth/mfa/totp/confirm");
  await page.locator("#recovery-codes").waitFor();
  await axe.check(page, "recovery codes");

  await page.goto(`${base}/auth/account`);
  assert.equal(await page.locator("#passkeys tbody tr").count(), 1);
  assert.ok((await page.locator("form[action$='/revoke'] button").count()) >= 2);
  await axe.check(page, "account, with sessions, an API key, a passkey and an app");
  await page.goto(`${base}/auth/logout`);
  await axe.check(page, "sign out page, signed in");

  // Signing in again asks for the second factor.
  await submit(page, "/auth/logout");
  await page.waitForURL(/\/auth\/login/);
  await page.locator("#email").fill(email);
  await page.locator("#password").fill(GOOD_PASSWORD);
  await submit(page, "/auth/login");
  await page.waitForURL(/\/auth\/mfa/);
  await axe.check(page, "second factor");
  await page.locator("#totp-code").fill("000000");
  await submit(page, "/auth/mfa/verify");
  await axe.check(page, "second factor, wrong code");
  assert.deepEqual(await ariaOf(page, "#totp-code"), {
    invalid: "true",
    describedBy: ["form-error"],
  });
  assert.equal((await ariaOf(page, "#recovery-code")).invalid, null, "not the other form's field");
  await context.close();

  // A new password from the mailed link.
  const reset = await browser.newPage();
  await reset.goto(`${base}/auth/forgot-password`);
  await reset.locator("#email").fill(email);
  await submit(reset, "/auth/forgot-password");
  await reset.goto(await mailedLink(email, "/reset-password"));
  await axe.check(reset, "reset password");
  await reset.locator("#password").fill("short");
  await submit(reset, "/auth/reset-password");
  await axe.check(reset, "reset password, refused");
  assert.equal((await ariaOf(reset, "#password")).invalid, "true");
  await reset.locator("#password").fill(`${GOOD_PASSWORD} again`);
  await submit(reset, "/auth/reset-password");
  assert.equal(await reset.locator("p.notice[role=status]").count(), 1);
  await axe.check(reset, "login, with a notice");
  await reset.close();
  axe.assertNone();
});
