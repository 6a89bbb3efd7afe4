// A provider sign-in on an account with a second factor is half done until
// the factor is proven, like a password sign-in: the callback sets no session
// cookie and lands on the step-up page, which then makes the session. With a
// real OpenID Connect provider (oidc-provider on loopback), on both databases.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DatabaseHandle } from "../../src/db/client.ts";
import { totpCodeAt } from "../../src/mfa/totp.ts";
import { backends } from "../helpers/backends.ts";
import { CookieBrowser } from "../helpers/cookie-browser.ts";
import {
  askResolve,
  bodyOf,
  type RunningGatehouse,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postJson } from "../helpers/http.ts";
import { type RunningOidcProvider, startOidcProvider } from "../helpers/oidc-provider.ts";
import { freePort } from "../helpers/ports.ts";

for (const backend of backends) {
  describe(`a provider sign-in with a second factor (${backend.name})`, () => {
    let provider: RunningOidcProvider;
    let database: DatabaseHandle;
    let server: RunningGatehouse;
    let base: string;

    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      provider = await startOidcProvider({ redirectUris: [`${base}/auth/oauth/idp/callback`] });
      database = await backend.open();
      server = await startGatehouse(
        database,
        {
          OAUTH_PROVIDERS: `[{ id: idp, type: oidc, issuer: "${provider.issuer}", client_id: ${provider.clientId}, client_secret_env: IDP_SECRET, scopes: [openid, email, profile] }]`,
          IDP_SECRET: provider.clientSecret,
          ALLOWED_REDIRECT_HOSTS: "app.example.test",
          RULES: `[{ path: "/admin/**", mfa: true }]`,
        },
        { port },
      );
    });
    after(async () => {
      await server?.stop();
      await database?.close();
      await provider?.stop();
    });

    async function signIn(account: { sub: string; email: string; email_verified: boolean }) {
      const browser = new CookieBrowser();
      provider.nextUser(account);
      const { hops } = await browser.follow(
        `${base}/auth/oauth/idp?rd=${encodeURIComponent("http://app.example.test/after")}`,
        {},
        (next) => next.host === "app.example.test",
      );
      return { browser, last: hops.at(-1) as { url: URL; status: number } };
    }

    test("the callback makes a half sign-in; the factor makes the session", async () => {
      const email = uniqueEmail("oidc-mfa");
      const account = { sub: `sub-${email}`, email, email_verified: true };
      const first = await signIn(account);
      const cookie = `gatehouse_session=${first.browser.cookies.get("gatehouse_session")}`;
      assert.equal(
        (await askResolve(base, "/", { cookie })).headers.get("x-auth-amr"),
        "oauth:idp",
      );
      const { secret } = await bodyOf(await fetch(`${base}/auth/mfa/totp`, postJson({}, cookie)));
      const confirmed = await fetch(
        `${base}/auth/mfa/totp/confirm`,
        postJson({ code: totpCodeAt(secret, Date.now() - 30_000) }, cookie),
      );
      assert.equal(confirmed.status, 200);

      const second = await signIn(account);
      assert.equal(second.last.url.pathname, "/auth/mfa", "lands on the step-up page");
      assert.equal(second.last.url.searchParams.get("rd"), "http://app.example.test/after");
      assert.equal(second.browser.cookies.get("gatehouse_session"), undefined, "no session yet");
      const half = second.browser.cookies.get("gatehouse_session_mfa");
      assert.ok(half);
      const verified = await second.browser.request(new URL(`${base}/auth/mfa/verify`), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ kind: "totp", code: totpCodeAt(secret, Date.now()) }),
      });
      assert.equal(verified.status, 200, await verified.clone().text());
      const session = `gatehouse_session=${second.browser.cookies.get("gatehouse_session")}`;
      const resolved = await askResolve(base, "/admin/", { cookie: session });
      assert.equal(resolved.status, 200);
      assert.equal(resolved.headers.get("x-auth-method"), "oauth:idp");
      assert.equal(resolved.headers.get("x-auth-amr"), "otp,mfa");
      assert.equal(resolved.headers.get("x-auth-mfa"), "true");
    });
  });
}
