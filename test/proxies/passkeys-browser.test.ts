// Passkeys in headless Chromium through real nginx, with Chromium's virtual
// authenticators (DevTools protocol WebAuthn domain): enrol a passkey from
// the account page, sign out, sign in with the passkey alone and reach a
// protected page and an `mfa: true` one; enrol a second authenticator; after
// five minutes a removal asks for a fresh sign-in, and works after one. A
// password sign-in on a passkey account asks for the passkey on the step-up
// page. The pages run under the hosted pages' strict CSP: a CSP violation
// would stop the script.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { DatabaseHandle } from "../../src/db/client.ts";
import { auditEvents, sessions, users, webauthnCredentials } from "../../src/db/schema.ts";
import { type BrowserStack, startBrowserStack } from "../helpers/browser-stack.ts";
import { addVirtualAuthenticator, axeViolations } from "../helpers/chromium.ts";
import { type ManualClock, manualClock } from "../helpers/clock.ts";
import {
  GOOD_PASSWORD,
  markVerified,
  type RunningGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { type RunningSmtp, startSmtp } from "../helpers/smtp.ts";

let stack: BrowserStack;
let database: DatabaseHandle;
let gatehouse: RunningGatehouse;
let browser: Browser;
let smtp: RunningSmtp;
let clock: ManualClock;
/** A host name, not an address: browsers refuse passkeys on IP addresses. */
let base: string;

before(async () => {
  clock = manualClock();
  smtp = await startSmtp();
  stack = await startBrowserStack({
    host: "localhost",
    env: {
      SMTP_URL: smtp.url,
      SITE_NAME: "Passkey Test",
      RULES: "[{ path: /admin/**, mfa: true }]",
    },
    gatehouse: { clock },
  });
  ({ base, database, gatehouse, browser } = stack);
});

after(async () => {
  await stack?.stop();
  await smtp?.stop();
});

const echoed = async (page: Page) =>
  JSON.parse(((await page.locator("body").textContent()) ?? "").trim());

/** From here on the browser offers no passkey autofill: a login page cannot sign in by itself. */
async function withoutAutofill(page: Page) {
  await page.addInitScript(() => {
    PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
}

/** A new account with a password, its address confirmed, signed in; its row. */
async function registered(page: Page, email: string) {
  await page.goto(`${base}/auth/register`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(GOOD_PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/auth\/account/);
  await markVerified(gatehouse, email);
  const [user] = await database.db.select().from(users).where(eq(users.email, email));
  assert.ok(user);
  return user;
}

async function signOut(page: Page) {
  await page.goto(`${base}/auth/account`);
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL(/\/auth\/login/);
}

async function enrol(page: Page, name: string) {
  await page.goto(`${base}/auth/account`);
  await page.getByLabel("Name of the new passkey").fill(name);
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await page.getByText(`The passkey “${name}” was added.`).waitFor();
}

/**
 * Signs in with the passkey alone: through the browser's autofill (the
 * virtual authenticator answers the conditional request as soon as the
 * login page makes it), or with the button (the caller has switched the
 * browser's autofill off).
 */
async function passkeySignIn(page: Page, target: string, how: "autofill" | "button") {
  await page.goto(`${base}/auth/login?rd=${encodeURIComponent(target)}`);
  // Only the passkey: no address, no password.
  if (how === "button") await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForURL(target);
}

test("enrol passkeys, sign in with one alone, remove one after signing in again", async () => {
  const context: BrowserContext = await browser.newContext();
  const page = await context.newPage();
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const laptop = await addVirtualAuthenticator(cdp);
  const email = uniqueEmail("passkey-browser");

  // An account with a password, its address confirmed.
  const user = await registered(page, email);

  // The login page offers passkeys in the address field's autofill.
  await signOut(page);
  assert.equal(await page.getByLabel("Email").getAttribute("autocomplete"), "username webauthn");
  assert.deepEqual(await axeViolations(page, 'form[data-passkey="login"]'), []);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(GOOD_PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(/\/auth\/account/);

  await enrol(page, "Work laptop");
  const stored = await database.db
    .select()
    .from(webauthnCredentials)
    .where(eq(webauthnCredentials.userId, user.id));
  assert.equal(stored.length, 1);
  assert.equal(stored[0]?.name, "Work laptop");
  assert.ok(stored[0]?.publicKey.length, "the public key is kept");

  // Sign out, then in with only the passkey.
  await signOut(page);
  await page.goto(`${base}/projects/7?tab=board`);
  assert.equal(new URL(page.url()).pathname, "/auth/login", "a protected page asks to sign in");
  await passkeySignIn(page, `${base}/projects/7?tab=board`, "autofill");
  const seen = await echoed(page);
  assert.equal(seen.headers["x-auth-email"], email);
  assert.equal(seen.headers["x-auth-method"], "passkey");
  const [session] = await database.db.select().from(sessions).where(eq(sessions.userId, user.id));
  assert.equal(session?.method, "passkey");
  // The passkey alone meets an mfa: true rule.
  await page.goto(`${base}/admin/reports`);
  const strict = await echoed(page);
  assert.equal(strict.headers["x-auth-mfa"], "true");
  assert.equal(strict.headers["x-auth-amr"], "hwk,mfa");

  // A second authenticator: the first is gone from this browser (a lost laptop).
  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: laptop });
  await addVirtualAuthenticator(cdp);
  // This one with the keyboard alone: type the name, Tab to the button, Enter.
  await page.goto(`${base}/auth/account`);
  await page.getByLabel("Name of the new passkey").focus();
  await page.keyboard.type("Phone");
  await page.keyboard.press("Tab");
  assert.equal(
    await page.evaluate(() => document.activeElement?.textContent),
    "Add a passkey",
    "the button is next in the tab order",
  );
  await page.keyboard.press("Enter");
  await page.getByText("The passkey “Phone” was added.").waitFor();
  assert.deepEqual(await axeViolations(page, "#passkeys"), []);
  await page.goto(`${base}/auth/account`);
  assert.equal(await page.getByRole("button", { name: /^Remove the passkey/ }).count(), 2);

  // Five minutes on, a removal needs a fresh sign-in.
  clock.advance(6 * 60 * 1000);
  await page.goto(`${base}/auth/account`);
  await page.getByRole("button", { name: "Remove the passkey Work laptop" }).click();
  await page.getByText(/to add or remove a passkey/).waitFor();
  assert.equal(
    (
      await database.db
        .select()
        .from(webauthnCredentials)
        .where(eq(webauthnCredentials.userId, user.id))
    ).length,
    2,
    "nothing removed without a fresh sign-in",
  );

  // Signed in again with the phone's passkey, the laptop's goes. From here
  // the browser offers no autofill, before signing out: the login page that
  // follows would otherwise sign in by itself, racing the button.
  await withoutAutofill(page);
  await signOut(page);
  await passkeySignIn(page, `${base}/reports`, "button");
  await page.goto(`${base}/auth/account`);
  await page.getByRole("button", { name: "Remove the passkey Work laptop" }).click();
  await page.getByText("The passkey was removed.").waitFor();
  const left = await database.db
    .select()
    .from(webauthnCredentials)
    .where(eq(webauthnCredentials.userId, user.id));
  assert.deepEqual(
    left.map((row) => row.name),
    ["Phone"],
  );
  assert.ok((left[0]?.lastUsedAt?.getTime() ?? 0) > 0, "last use recorded");

  // Audited, and the owner told by mail.
  const events = await database.db
    .select({ type: auditEvents.type })
    .from(auditEvents)
    .where(eq(auditEvents.userId, user.id));
  const types = events.map((event) => event.type);
  assert.equal(types.filter((type) => type === "passkey.added").length, 2);
  assert.equal(types.filter((type) => type === "passkey.removed").length, 1);
  await gatehouse.gatehouse.mailer.idle();
  const subjects = smtp.waiting(email).map((mail) => mail.subject);
  assert.equal(subjects.filter((s) => /passkey was added/.test(s)).length, 2);
  assert.equal(subjects.filter((s) => /passkey was removed/.test(s)).length, 1);

  assert.deepEqual(violations, [], "no CSP violation");
  await context.close();
});

test("a password sign-in on a passkey account asks for the passkey, then an mfa rule resolves", async () => {
  const context: BrowserContext = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  await addVirtualAuthenticator(cdp);
  await withoutAutofill(page);
  const email = uniqueEmail("passkey-step-up");
  const user = await registered(page, email);
  await enrol(page, "Security key");
  await signOut(page);

  // The mfa page asks to sign in; the password alone is not enough.
  const target = `${base}/admin/panel?tab=users`;
  await page.goto(target);
  assert.equal(new URL(page.url()).pathname, "/auth/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(GOOD_PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(/\/auth\/mfa\?/);
  assert.equal(new URL(page.url()).searchParams.get("rd"), target);
  const halfway = await database.db.select().from(sessions).where(eq(sessions.userId, user.id));
  assert.equal(halfway.length, 0, "no session before the passkey (the enrolling one signed out)");
  assert.deepEqual(await axeViolations(page, "main"), []);

  // The passkey button has the focus: Enter runs the ceremony, and the page opens.
  await page.getByRole("button", { name: "Use a passkey" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Use a passkey");
  await page.keyboard.press("Enter");
  await page.waitForURL(target);
  const seen = await echoed(page);
  assert.equal(seen.headers["x-auth-email"], email);
  assert.equal(seen.headers["x-auth-mfa"], "true");
  assert.equal(seen.headers["x-auth-amr"], "pwd,hwk,mfa");
  assert.equal(seen.headers["x-auth-method"], "password");
  await context.close();
});
