// Sign-in with a real OpenID Connect provider (oidc-provider on loopback):
// first login, returning login, the linking rules, every state, nonce and
// PKCE failure, provider errors, and provider tokens passed upstream with
// refresh. Runs on both storage backends.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { count, eq } from "drizzle-orm";
import type { DatabaseHandle } from "../../src/db/client.ts";
import { auditEvents, oauthFlows, oauthIdentities, users } from "../../src/db/schema.ts";
import { xsrfTokenFor } from "../../src/sessions/xsrf.ts";
import { backends } from "../helpers/backends.ts";
import { manualClock } from "../helpers/clock.ts";
import { CookieBrowser } from "../helpers/cookie-browser.ts";
import {
  askResolve,
  bodyOf,
  markVerified,
  type RunningGatehouse,
  register,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { type RunningOidcProvider, startOidcProvider } from "../helpers/oidc-provider.ts";
import { freePort } from "../helpers/ports.ts";

const isCallback = (url: URL) => url.pathname.endsWith("/callback");

for (const backend of backends) {
  describe(`sign-in with an OpenID Connect provider (${backend.name})`, () => {
    let provider: RunningOidcProvider;
    let database: DatabaseHandle;
    let server: RunningGatehouse;
    const clock = manualClock();
    let base: string;

    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      provider = await startOidcProvider({
        redirectUris: [`${base}/auth/oauth/idp/callback`, `${base}/auth/oauth/other/callback`],
      });
      database = await backend.open();
      const entry = (id: string, name: string) =>
        `{ id: ${id}, type: oidc, issuer: "${provider.issuer}", client_id: ${provider.clientId}, client_secret_env: IDP_SECRET, display_name: "${name}", scopes: [openid, email, profile, offline_access] }`;
      server = await startGatehouse(
        database,
        {
          OAUTH_PROVIDERS: `[${entry("idp", "Test IdP")}, ${entry("other", "Other IdP")}]`,
          IDP_SECRET: provider.clientSecret,
          ALLOWED_REDIRECT_HOSTS: "app.example.test",
          RULES: `[
            { path: "/api/**", upstream_token: { provider: idp } },
            { path: "/raw/**", upstream_token: { provider: idp, header: x-idp-token } },
            { path: "/forms/**", access: authenticated, xsrf: true }
          ]`,
        },
        { clock, port },
      );
    });
    after(async () => {
      await server?.stop();
      await database?.close();
      await provider?.stop();
    });

    /** A whole sign-in in a fresh browser; returns the browser and where it landed. */
    async function signIn(
      account: Parameters<RunningOidcProvider["nextUser"]>[0],
      browser = new CookieBrowser(),
    ) {
      provider.nextUser(account);
      const { hops } = await browser.follow(
        `${base}/auth/oauth/idp?rd=${encodeURIComponent("http://app.example.test/after")}`,
        {},
        (next) => next.host === "app.example.test",
      );
      return { browser, hops, last: hops.at(-1) as { url: URL; status: number } };
    }

    /** Starts a sign-in and stops before the callback, for the failure cases. */
    async function callbackUrl(
      account: Parameters<RunningOidcProvider["nextUser"]>[0],
      browser = new CookieBrowser(),
      start = `${base}/auth/oauth/idp`,
    ) {
      provider.nextUser(account);
      const { stoppedAt } = await browser.follow(start, {}, isCallback);
      assert.ok(stoppedAt, "the provider sends the browser back to the callback");
      return { browser, url: stoppedAt };
    }

    const usersWith = async (email: string) =>
      (await database.db.select({ n: count() }).from(users).where(eq(users.email, email)))[0]?.n;

    test("a first sign-in creates the user, the identity and a session; the next one finds them", async () => {
      const email = uniqueEmail("oidc");
      const account = { sub: `sub-${email}`, email, email_verified: true, name: "Ada Lovelace" };
      const first = await signIn(account);
      assert.equal(first.last.status, 303, "the callback redirects to rd");
      const token = first.browser.cookies.get("gatehouse_session") ?? "";
      const cookie = `gatehouse_session=${token}`;
      assert.equal(
        first.browser.cookies.get("XSRF-TOKEN"),
        xsrfTokenFor(token),
        "a provider sign-in sets the session's XSRF cookie (a rule checks XSRF)",
      );
      const resolved = await askResolve(base, "/", { cookie });
      assert.equal(resolved.status, 200);
      assert.equal(resolved.headers.get("x-auth-method"), "oauth:idp");
      assert.equal(resolved.headers.get("x-auth-email"), email);
      assert.equal(resolved.headers.get("x-auth-email-verified"), "true");
      assert.equal(resolved.headers.get("x-auth-name"), "Ada Lovelace");
      assert.equal(await usersWith(email), 1);

      const [identity] = await database.db
        .select()
        .from(oauthIdentities)
        .where(eq(oauthIdentities.email, email));
      assert.ok(identity?.accessToken, "the access token is kept");
      assert.match(
        identity.accessToken,
        /^ey[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/,
        "as a compact JWE (dir), not in clear",
      );
      assert.equal(
        first.browser.cookies.has("gatehouse_session_oauth"),
        false,
        "the flow cookie is gone",
      );

      const second = await signIn(account);
      const again = `gatehouse_session=${second.browser.cookies.get("gatehouse_session")}`;
      const info = await bodyOf(
        await fetch(`${base}/auth/userinfo`, { headers: { cookie: again } }),
      );
      assert.equal(info.id, resolved.headers.get("x-auth-user-id"));
      assert.equal(await usersWith(email), 1);
    });

    test("an account a provider's first sign-in makes keeps the browser's language; later choices are not overwritten", async () => {
      const email = uniqueEmail("oidc-locale");
      const account = { sub: `sub-${email}`, email, email_verified: true };
      const browser = new CookieBrowser();
      browser.cookies.set("gatehouse_locale", "es");
      await signIn(account, browser);
      const stored = async () =>
        (await database.db.select().from(users).where(eq(users.email, email)))[0]?.locale;
      assert.equal(await stored(), "es");
      browser.cookies.set("gatehouse_locale", "de");
      await signIn(account, browser);
      assert.equal(await stored(), "es", "only an account without a language gets one");
    });

    test("linking by email happens only when both the provider and the account have verified it", async () => {
      // Verified on both sides: the identity joins the existing account.
      const verified = uniqueEmail("both");
      await register(base, verified);
      await database.db.update(users).set({ emailVerified: true }).where(eq(users.email, verified));
      const linked = await signIn({
        sub: `sub-${verified}`,
        email: verified,
        email_verified: true,
      });
      assert.equal(linked.last.status, 303);
      assert.equal(await usersWith(verified), 1);
      const [owner] = await database.db.select().from(users).where(eq(users.email, verified));
      const [identity] = await database.db
        .select()
        .from(oauthIdentities)
        .where(eq(oauthIdentities.subject, `sub-${verified}`));
      assert.equal(identity?.userId, owner?.id);

      // The provider does not vouch for the address: never linked.
      const unverifiedAtProvider = uniqueEmail("idp-unverified");
      await register(base, unverifiedAtProvider);
      await database.db
        .update(users)
        .set({ emailVerified: true })
        .where(eq(users.email, unverifiedAtProvider));
      // The account's address is not verified: never linked either.
      const unverifiedHere = uniqueEmail("local-unverified");
      await register(base, unverifiedHere);
      for (const [email, providerSays] of [
        [unverifiedAtProvider, false],
        [unverifiedHere, true],
      ] as const) {
        const refused = await signIn({ sub: `sub-${email}`, email, email_verified: providerSays });
        assert.equal(refused.last.status, 409);
        assert.equal(refused.browser.cookies.has("gatehouse_session"), false);
        const identities = await database.db
          .select()
          .from(oauthIdentities)
          .where(eq(oauthIdentities.subject, `sub-${email}`));
        assert.equal(identities.length, 0, "nothing was created");
        assert.equal(await usersWith(email), 1);
      }
    });

    test("every broken callback is a 400 that creates nothing and uses the flow up", async () => {
      const email = uniqueEmail("tamper");
      const account = { sub: `sub-${email}`, email, email_verified: true };
      const nothingCreated = async () => {
        assert.equal(await usersWith(email), 0);
      };
      const expect400 = async (response: Response | undefined, pattern: RegExp) => {
        assert.equal(response?.status, 400);
        assert.match(await (response as Response).text(), pattern);
      };

      // Missing cookie: the callback arrives in another browser.
      const stolen = await callbackUrl(account);
      await expect400(await new CookieBrowser().request(stolen.url), /not started in this browser/);

      // Wrong state: refused, and the flow is gone, so the right one fails too.
      const wrong = await callbackUrl(account);
      const forged = new URL(wrong.url);
      forged.searchParams.set("state", "not-the-state");
      await expect400(await wrong.browser.request(forged), /not started in this browser/);
      await expect400(await wrong.browser.request(wrong.url), /not started in this browser/);

      // Another provider's callback.
      const crossed = await callbackUrl(account);
      const elsewhere = new URL(
        crossed.url.href.replace("/oauth/idp/callback", "/oauth/other/callback"),
      );
      await expect400(await crossed.browser.request(elsewhere), /not started in this browser/);

      // Reused: a completed callback replayed with the old cookie.
      const used = await callbackUrl(account);
      const handle = used.browser.cookies.get("gatehouse_session_oauth") as string;
      assert.equal((await used.browser.request(used.url)).status, 303);
      await database.db.delete(users).where(eq(users.email, email));
      used.browser.cookies.set("gatehouse_session_oauth", handle);
      await expect400(await used.browser.request(used.url), /not started in this browser/);
      await nothingCreated();

      // A nonce that does not match the ID token's.
      const nonce = await callbackUrl(account);
      await database.db.update(oauthFlows).set({ nonce: "another-nonce" });
      await expect400(await nonce.browser.request(nonce.url), /nonce does not match/);

      // A PKCE verifier that does not match the challenge: the provider refuses the code.
      const pkce = await callbackUrl(account);
      await database.db.update(oauthFlows).set({ codeVerifier: "x".repeat(64) });
      await expect400(await pkce.browser.request(pkce.url), /invalid_grant/);

      // No code; the provider's own error.
      const noCode = await callbackUrl(account);
      const bare = new URL(noCode.url);
      bare.searchParams.delete("code");
      await expect400(await noCode.browser.request(bare), /sent no authorization code/);
      provider.denyNext("access_denied");
      const denied = await callbackUrl(account);
      await expect400(await denied.browser.request(denied.url), /did not allow Test IdP/);

      await nothingCreated();
      const count_ = await database.db
        .select({ n: count() })
        .from(oauthIdentities)
        .where(eq(oauthIdentities.subject, account.sub));
      assert.equal(count_[0]?.n, 0);
    });

    test("unknown providers and unreachable ones end on a readable page", async () => {
      const unknown = await fetch(`${base}/auth/oauth/nope`);
      assert.equal(unknown.status, 404);
      assert.match(await unknown.text(), /no such sign-in provider/);
      const stray = await fetch(`${base}/auth/oauth/nope/callback?code=x&state=y`);
      assert.equal(stray.status, 404);
    });

    test("a rule passes the provider's access token upstream and refreshes it once for concurrent requests", async () => {
      const email = uniqueEmail("tokens");
      const { browser } = await signIn({ sub: `sub-${email}`, email, email_verified: true });
      const cookie = `gatehouse_session=${browser.cookies.get("gatehouse_session")}`;
      const first = await askResolve(base, "/api/things", { cookie });
      assert.equal(first.status, 200);
      assert.equal(first.headers.get("cache-control"), "no-store");
      const bearer = first.headers.get("authorization") as string;
      assert.match(bearer, /^Bearer \S+$/);
      const userinfo = await fetch(`${provider.issuer}/me`, { headers: { authorization: bearer } });
      assert.equal(userinfo.status, 200, "the token works at the provider");
      assert.equal((await bodyOf(userinfo)).sub, `sub-${email}`);

      const raw = await askResolve(base, "/raw/x", { cookie });
      assert.equal(raw.headers.get("x-idp-token"), bearer.slice("Bearer ".length));
      assert.equal(raw.headers.get("authorization"), null);

      // An hour later the token has expired: ten requests at once, one refresh.
      const refreshesBefore = provider.tokenRequests.refresh_token;
      clock.advance(3600 * 1000);
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => askResolve(base, "/api/things", { cookie })),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(10).fill(200),
      );
      const renewed = new Set(answers.map((a) => a.headers.get("authorization")));
      assert.equal(renewed.size, 1);
      const [fresh] = renewed;
      assert.notEqual(fresh, bearer);
      assert.equal(provider.tokenRequests.refresh_token - refreshesBefore, 1);
      const check = await fetch(`${provider.issuer}/me`, {
        headers: { authorization: fresh as string },
      });
      assert.equal(check.status, 200);

      // The provider's refresh token is gone while the gatehouse session lives:
      // 401 provider_reauth with the provider's sign-in, not a sign-out.
      await database.db
        .update(oauthIdentities)
        .set({ refreshToken: null })
        .where(eq(oauthIdentities.email, email));
      clock.advance(3600 * 1000);
      const reauth = await askResolve(base, "/api/things", { cookie });
      assert.equal(reauth.status, 401);
      const link = `${base}/auth/oauth/idp?rd=${encodeURIComponent("http://app.example.test/api/things")}`;
      assert.equal(reauth.headers.get("location"), link);
      const reauthBody = await bodyOf(reauth);
      assert.equal(reauthBody.error.code, "provider_reauth");
      assert.equal(reauthBody.error.link, link);
      assert.match(reauthBody.error.message, /Test IdP/);
      assert.equal((await fetch(`${base}/auth/userinfo`, { headers: { cookie } })).status, 200);
      // Back to the provider's own time, which verifies the next tests' ID tokens.
      clock.advance(-3600 * 1000);

      // A user without this provider gets a 403 saying what to do.
      const password = await register(base, uniqueEmail("no-idp"));
      const refused = await askResolve(base, "/api/things", { cookie: password });
      assert.equal(refused.status, 403);
      assert.match(await refused.text(), /sign in with Test IdP/);
    });

    test("link and unlink from the account; the last way to sign in stays", async () => {
      const email = uniqueEmail("linker");
      const cookie = await register(base, email);
      // Linking needs a verified address (then the provider's own address can differ).
      await markVerified(server, email);
      const browser = new CookieBrowser();
      browser.cookies.set("gatehouse_session", cookie.split("=")[1] as string);
      provider.nextUser({
        sub: `sub-${email}`,
        email: uniqueEmail("elsewhere"),
        email_verified: true,
      });
      const { hops } = await browser.follow(`${base}/auth/oauth/idp/link`, {
        method: "POST",
        headers: { "sec-fetch-site": "same-origin" },
      });
      assert.equal(hops.at(-1)?.url.pathname, "/auth/account");
      const listed = await bodyOf(await fetch(`${base}/auth/identities`, { headers: { cookie } }));
      assert.equal(listed.identities.length, 1);
      assert.equal(listed.identities[0].provider, "idp");
      const page = await (await fetch(`${base}/auth/account`, { headers: { cookie } })).text();
      assert.match(page, /Test IdP/);
      assert.match(page, /Link Other IdP/);

      // The same provider account cannot be linked to a second user.
      const secondEmail = uniqueEmail("second");
      const other = await register(base, secondEmail);
      await markVerified(server, secondEmail);
      const thief = new CookieBrowser();
      thief.cookies.set("gatehouse_session", other.split("=")[1] as string);
      const { response } = await thief.follow(`${base}/auth/oauth/idp/link`, {
        method: "POST",
        headers: { "sec-fetch-site": "same-origin" },
      });
      assert.equal(response?.status, 409);

      const unlinked = await fetch(`${base}/auth/identities/${listed.identities[0].id}`, {
        method: "DELETE",
        headers: { cookie },
      });
      assert.equal(unlinked.status, 200);
      assert.equal(
        (await bodyOf(await fetch(`${base}/auth/identities`, { headers: { cookie } }))).identities
          .length,
        0,
      );
      // Both audited with the client's address and browser.
      const [me] = await database.db.select().from(users).where(eq(users.email, email));
      const linkEvents = async () =>
        (
          await database.db
            .select()
            .from(auditEvents)
            .where(eq(auditEvents.userId, me?.id as string))
        ).filter((event) => event.type === "oauth.linked" || event.type === "oauth.unlinked");
      for (let i = 0; i < 40 && (await linkEvents()).length < 2; i++)
        await new Promise((resolve) => setTimeout(resolve, 25));
      const events = await linkEvents();
      assert.deepEqual(events.map((event) => event.type).sort(), [
        "oauth.linked",
        "oauth.unlinked",
      ]);
      for (const event of events) assert.equal(event.ip, "127.0.0.1", event.type);

      // A user who only ever signed in with the provider cannot unlink it.
      const only = uniqueEmail("only");
      const signedIn = await signIn({ sub: `sub-${only}`, email: only, email_verified: true });
      const onlyCookie = `gatehouse_session=${signedIn.browser.cookies.get("gatehouse_session")}`;
      const mine = await bodyOf(
        await fetch(`${base}/auth/identities`, { headers: { cookie: onlyCookie } }),
      );
      const last = await fetch(`${base}/auth/identities/${mine.identities[0].id}`, {
        method: "DELETE",
        headers: { cookie: onlyCookie },
      });
      assert.equal(last.status, 409);
      assert.match((await bodyOf(last)).error.message, /only way to sign in/);
      // Linking needs a session and a same-site POST.
      assert.equal((await fetch(`${base}/auth/oauth/idp/link`, { method: "POST" })).status, 401);
      const crossSite = await fetch(`${base}/auth/oauth/idp/link`, {
        method: "POST",
        headers: { cookie: onlyCookie, origin: "https://evil.example" },
      });
      assert.equal(crossSite.status, 403);
    });
  });
}
