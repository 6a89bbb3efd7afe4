// Signing out through the provider, in headless Chromium through real nginx:
// a person signed in with an OpenID Connect provider set to `logout:
// provider` presses "Sign out" on a page of the application (a form post to
// /auth/logout?rd=<that page>), confirms on the provider's own sign-out page,
// and comes back through gatehouse's post-logout landing to the page they
// left, which now asks them to sign in. The provider, its session ended,
// tells gatehouse over the back channel (through nginx too).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { type BrowserStack, startBrowserStack } from "../helpers/browser-stack.ts";
import { uniqueEmail } from "../helpers/gatehouse.ts";
import { type RunningOidcProvider, startOidcProvider } from "../helpers/oidc-provider.ts";
import { freePort } from "../helpers/ports.ts";

let stack: BrowserStack;
let browser: Browser;
let base: string;
let idp: RunningOidcProvider;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  idp = await startOidcProvider({
    redirectUris: [`${base}/auth/oauth/idp/callback`],
    postLogoutRedirectUris: [`${base}/auth/oauth/idp/logged-out`],
    backchannelLogoutUri: `${base}/auth/oauth/idp/backchannel-logout`,
  });
  stack = await startBrowserStack({
    port,
    env: {
      OAUTH_PROVIDERS: `[{ id: idp, type: oidc, issuer: "${idp.issuer}", client_id: ${idp.clientId}, client_secret_env: IDP_SECRET, display_name: "Test IdP", logout: provider }]`,
      IDP_SECRET: idp.clientSecret,
    },
  });
  ({ browser } = stack);
});

after(async () => {
  await stack?.stop();
  await idp?.stop();
});

test("sign out of the application ends the provider's session and lands back on the page", async () => {
  const page = await browser.newPage();
  const email = uniqueEmail("rp-logout");
  idp.nextUser({ sub: `rp-${email}`, email, email_verified: true });
  await page.goto(`${base}/reports/q3`);
  await page.getByRole("link", { name: "Sign in with Test IdP" }).click();
  await page.waitForURL(`${base}/reports/q3`);
  const echoed = JSON.parse(((await page.locator("body").textContent()) ?? "").trim());
  assert.equal(echoed.headers["x-auth-email"], email);

  const visited: string[] = [];
  page.on("request", (request) => {
    if (request.isNavigationRequest()) visited.push(request.url());
  });
  // The application's "Sign out" button: a form post to gatehouse with the page to come back to.
  const target = `${base}/reports/q3`;
  await page.evaluate(
    (action) => {
      const form = document.createElement("form");
      form.method = "post";
      form.action = action;
      document.body.append(form);
      form.submit();
    },
    `/auth/logout?rd=${encodeURIComponent(target)}`,
  );
  await page.getByRole("button", { name: "Yes, sign me out" }).click();
  await page.waitForURL((url) => url.pathname === "/auth/login");

  const landing = visited.find((url) => url.startsWith(`${base}/auth/oauth/idp/logged-out?`));
  assert.ok(
    landing,
    `the provider sent the browser to the registered landing (${visited.join(" → ")})`,
  );
  assert.ok(visited.includes(target), "the landing sent it on to the page it left");
  assert.equal(
    new URL(page.url()).searchParams.get("rd"),
    target,
    "which, signed out now, asks to sign in again",
  );
  const endSession = visited.find((url) => url.startsWith(`${idp.issuer}/session/end?`));
  assert.ok(endSession, "the browser went through the provider's end_session_endpoint");
  assert.ok(new URL(endSession).searchParams.get("id_token_hint"), "with the ID token as hint");
  assert.equal(idp.backchannel.success, 1, "the provider told gatehouse over the back channel");
  assert.deepEqual(idp.backchannel.error, []);
  await page.close();
});
