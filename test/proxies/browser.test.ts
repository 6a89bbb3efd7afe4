// A person's journeys in headless Chromium through real nginx: open a
// protected page, land on the login page, register, come back to the page
// showing the identity the application received, sign out; sign in with an
// OpenID Connect provider; reset a forgotten password from the email.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { type BrowserStack, startBrowserStack } from "../helpers/browser-stack.ts";
import { GOOD_PASSWORD, uniqueEmail } from "../helpers/gatehouse.ts";
import { type RunningOidcProvider, startOidcProvider } from "../helpers/oidc-provider.ts";
import { freePort } from "../helpers/ports.ts";
import { linkTo, type RunningSmtp, startSmtp } from "../helpers/smtp.ts";

/**
 * The README's recipe for upstream tokens: `location /` copied as
 * `location /api/`, plus the two lines that copy Authorization.
 */
function withUpstreamTokenLocation(site: string): string {
  const start = site.indexOf("    location / {");
  const end = site.indexOf("\n    }\n", start) + "\n    }\n".length;
  const api = site
    .slice(start, end)
    .replace("location / {", "location /api/ {")
    .replace(
      "        proxy_pass http://app;",
      `        auth_request_set $gatehouse_upstream_authorization $upstream_http_authorization;
        proxy_set_header Authorization $gatehouse_upstream_authorization;
        proxy_pass http://app;`,
    );
  return `${site.slice(0, end)}\n${api}${site.slice(end)}`;
}

let stack: BrowserStack;
let browser: Browser;
let base: string;
let idp: RunningOidcProvider;
let smtp: RunningSmtp;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  [idp, smtp] = await Promise.all([
    startOidcProvider({ redirectUris: [`${base}/auth/oauth/idp/callback`] }),
    startSmtp(),
  ]);
  stack = await startBrowserStack({
    port,
    env: {
      SMTP_URL: smtp.url,
      OAUTH_PROVIDERS: `[{ id: idp, type: oidc, issuer: "${idp.issuer}", client_id: ${idp.clientId}, client_secret_env: IDP_SECRET, display_name: "Test IdP" }]`,
      IDP_SECRET: idp.clientSecret,
      RULES: "[{ path: /api/**, upstream_token: { provider: idp } }]",
    },
    nginx: { editSite: withUpstreamTokenLocation },
  });
  ({ browser } = stack);
});

after(async () => {
  await stack?.stop();
  await idp?.stop();
  await smtp?.stop();
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

test("sign in with an OpenID Connect provider from the login page", async () => {
  const page = await browser.newPage();
  const email = uniqueEmail("idp-browser");
  idp.nextUser({ sub: `browser-${email}`, email, email_verified: true, name: "Grace Hopper" });

  await page.goto(`${base}/reports/q3`);
  assert.equal(new URL(page.url()).pathname, "/auth/login");
  await page.getByRole("link", { name: "Sign in with Test IdP" }).click();
  await page.waitForURL(`${base}/reports/q3`);

  const echoed = JSON.parse(((await page.locator("body").textContent()) ?? "").trim());
  assert.equal(echoed.headers["x-auth-method"], "oauth:idp");
  assert.equal(echoed.headers["x-auth-email"], email);
  assert.equal(echoed.headers["x-auth-email-verified"], "true");
  assert.equal(echoed.headers["x-auth-name"], "Grace Hopper");

  await page.goto(`${base}/auth/account`);
  assert.match(await page.content(), /Test IdP/);

  // The API location receives the provider's access token, which works at the provider.
  await page.goto(`${base}/api/me`);
  const api = JSON.parse(((await page.locator("body").textContent()) ?? "").trim());
  assert.match(api.headers.authorization, /^Bearer \S+$/);
  assert.equal(api.headers["x-auth-email"], email);
  const userinfo = await fetch(`${idp.issuer}/me`, {
    headers: { authorization: api.headers.authorization },
  });
  assert.equal(((await userinfo.json()) as { sub: string }).sub, `browser-${email}`);
  // Elsewhere, no token is passed.
  await page.goto(`${base}/reports/q3`);
  const plain = JSON.parse(((await page.locator("body").textContent()) ?? "").trim());
  assert.equal(plain.headers.authorization, undefined);
  await page.close();
});

test("forgot the password: ask for a link, follow it from the email, choose a new one, sign in", async () => {
  const email = uniqueEmail("reset-browser");
  const setup = await browser.newPage();
  await setup.goto(`${base}/auth/register`);
  await setup.getByLabel("Email").fill(email);
  await setup.getByLabel("Password").fill(GOOD_PASSWORD);
  await setup.getByRole("button", { name: "Create account" }).click();
  await setup.waitForLoadState();
  await setup.context().clearCookies();
  await setup.close();
  await smtp.next(email); // the verification message

  const page = await browser.newPage();
  await page.goto(`${base}/auth/login`);
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Send me a link" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();

  const link = linkTo(await smtp.next(email), "/auth/reset-password");
  await page.goto(link.href);
  const newPassword = "a brand new and uncommon passphrase 11";
  await page.getByLabel("New password").fill(newPassword);
  await page.getByRole("button", { name: "Set the new password" }).click();
  await page.getByText("Sign in with the new password").waitFor();

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(newPassword);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  // No return target: the account page, never a JSON 404.
  await page.waitForURL(`${base}/auth/account`);
  await page.getByText(email).first().waitFor();
  await page.goto(`${base}/`);
  const echoed = JSON.parse(((await page.locator("body").textContent()) ?? "").trim());
  assert.equal(echoed.headers["x-auth-email"], email);
  await page.close();
});
