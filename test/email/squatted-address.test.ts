// An address squatted before its owner arrives: someone registers it, holds
// keys, provider links and sessions on the account. The first proof that the
// address is its owner's (a reset, a verification) removes all of it, and
// nothing made before the proof can land after it. Until then keys and
// provider links cannot be made at all, and key changes need a fresh sign-in.
// Through a real SMTP listener and a real OpenID Connect provider.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { and, eq, isNull } from "drizzle-orm";
import type { DatabaseHandle } from "../../src/db/client.ts";
import { apiKeys, oauthIdentities, sessions, users } from "../../src/db/schema.ts";
import { backends } from "../helpers/backends.ts";
import { manualClock } from "../helpers/clock.ts";
import { CookieBrowser } from "../helpers/cookie-browser.ts";
import {
  askResolve,
  bodyOf,
  GOOD_PASSWORD,
  login,
  markVerified,
  type RunningGatehouse,
  register,
  sessionCookie,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { postForm as form, postJson as json } from "../helpers/http.ts";
import { type RunningOidcProvider, startOidcProvider } from "../helpers/oidc-provider.ts";
import { freePort } from "../helpers/ports.ts";
import { linkTo, startSmtp } from "../helpers/smtp.ts";

const NEW_PASSWORD = "the owner's own long passphrase 9";

const smtp = await startSmtp();
after(() => smtp.stop());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

for (const backend of backends) {
  describe(`a squatted address (${backend.name})`, () => {
    let provider: RunningOidcProvider;
    let database: DatabaseHandle;
    let server: RunningGatehouse;
    const clock = manualClock();
    let base: string;

    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      provider = await startOidcProvider({ redirectUris: [`${base}/auth/oauth/idp/callback`] });
      database = await backend.open();
      server = await startGatehouse(
        database,
        {
          OAUTH_PROVIDERS: `[{ id: idp, type: oidc, issuer: "${provider.issuer}", client_id: ${provider.clientId}, client_secret_env: IDP_SECRET, display_name: "Test IdP" }]`,
          IDP_SECRET: provider.clientSecret,
          SMTP_URL: smtp.url,
          SITE_NAME: "Acme Tools",
        },
        { clock, port },
      );
    });
    after(async () => {
      await server?.stop();
      await database?.close();
      await provider?.stop();
    });

    /** A whole provider sign-in in a fresh browser: the session cookie, or the refusing status. */
    async function providerSignIn(account: Parameters<RunningOidcProvider["nextUser"]>[0]) {
      provider.nextUser(account);
      const browser = new CookieBrowser();
      const { hops } = await browser.follow(`${base}/auth/oauth/idp`);
      const session = browser.cookies.get("gatehouse_session");
      return {
        status: hops.at(-1)?.status,
        cookie: session ? `gatehouse_session=${session}` : undefined,
      };
    }

    const userIdOf = async (email: string) =>
      (await database.db.select({ id: users.id }).from(users).where(eq(users.email, email)))[0]
        ?.id as string;

    /** What an unverified account could hold before keys and links needed a verified address (or by an operator). */
    async function plantKeyAndIdentity(userId: string, subject: string, email: string) {
      const { key } = await server.gatehouse.apiKeys.create({ userId, name: "squatter's key" });
      await database.db.insert(oauthIdentities).values({
        id: crypto.randomUUID(),
        userId,
        provider: "idp",
        subject,
        email,
        emailVerified: false,
      });
      return key;
    }

    test("a reset that first proves the address ends the squatter's key, provider link and sessions", async () => {
      const victim = uniqueEmail("victim");
      // The squatter registers the victim's address; the verification mail goes to the victim, unread.
      const squatter = await register(base, victim);
      await smtp.next(victim);

      // Unverified, the account can neither mint keys nor link a provider.
      const key403 = await fetch(`${base}/auth/api-keys`, json({ name: "mine" }, squatter));
      assert.equal(key403.status, 403);
      const refusal = await bodyOf(key403);
      assert.equal(refusal.error.code, "email_not_verified");
      assert.match(refusal.error.message, /Confirm your email address first/);
      const link403 = await fetch(`${base}/auth/oauth/idp/link`, {
        method: "POST",
        headers: { cookie: squatter, accept: "application/json", "sec-fetch-site": "same-origin" },
        redirect: "manual",
      });
      assert.equal(link403.status, 403);
      assert.equal((await bodyOf(link403)).error.code, "email_not_verified");

      // What such an account held before these rules: a key and the squatter's provider account.
      const userId = await userIdOf(victim);
      const squatterSub = `squatter-${victim}`;
      const key = await plantKeyAndIdentity(userId, squatterSub, victim);
      const viaProvider = await providerSignIn({
        sub: squatterSub,
        email: victim,
        email_verified: false,
      });
      assert.ok(viaProvider.cookie, "the linked provider account signs the squatter in");
      for (const headers of [bearer(key), { cookie: squatter }, { cookie: viaProvider.cookie }]) {
        const before = await askResolve(base, "/", headers);
        assert.equal(before.status, 200);
        assert.equal(before.headers.get("x-auth-email"), victim);
      }

      // The owner's own provider sign-in is refused: the address has an account.
      const owner = { sub: `owner-${victim}`, email: victim, email_verified: true };
      assert.equal((await providerSignIn(owner)).status, 409);

      // So the owner resets the password from the mail.
      assert.equal(
        (await fetch(`${base}/auth/forgot-password`, json({ email: victim }))).status,
        202,
      );
      const reset = linkTo(await smtp.next(victim), "/auth/reset-password");
      const done = await fetch(
        `${base}/auth/reset-password`,
        form({ token: reset.searchParams.get("token") as string, password: NEW_PASSWORD }),
      );
      assert.equal(done.status, 200);
      const page = await done.text();
      assert.match(page, /first proof that the address belongs to its owner/);
      assert.match(
        page,
        /1 API key, the linked sign-in provider \(Test IdP\) and 2 signed-in sessions/,
      );
      const notice = await smtp.next(victim);
      assert.equal(notice.subject, "Your Acme Tools password was changed");
      assert.match(notice.text, /1 API key, the linked sign-in provider \(Test IdP\)/);

      // Nothing of the squatter's resolves any more, and nothing signs them in again.
      for (const headers of [bearer(key), { cookie: squatter }, { cookie: viaProvider.cookie }])
        assert.equal((await askResolve(base, "/", headers)).status, 401);
      assert.equal((await login(base, victim)).status, 401);
      const again = await providerSignIn({
        sub: squatterSub,
        email: victim,
        email_verified: false,
      });
      assert.equal(again.status, 409);
      assert.equal(again.cookie, undefined);
      const live = await database.db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)));
      assert.equal(live.length, 0);

      // The owner signs in with the new password, and with the provider (now linked by the verified address).
      const signedIn = await login(base, victim, NEW_PASSWORD);
      assert.equal(signedIn.status, 200);
      const mine = await askResolve(base, "/", { cookie: sessionCookie(signedIn) });
      assert.equal(mine.headers.get("x-auth-email-verified"), "true");
      const ownerIn = await providerSignIn(owner);
      assert.ok(ownerIn.cookie);
      const identities = await database.db
        .select({ subject: oauthIdentities.subject })
        .from(oauthIdentities)
        .where(eq(oauthIdentities.userId, userId));
      assert.deepEqual(
        identities.map((row) => row.subject),
        [owner.sub],
      );
    });

    test("a verification that first proves the address: the presenting browser keeps its session, the rest goes", async () => {
      const email = uniqueEmail("confirm");
      const registered = await register(base, email);
      const token = linkTo(await smtp.next(email), "/auth/verify-email").searchParams.get("token");
      const other = sessionCookie(await login(base, email));
      const userId = await userIdOf(email);
      const key = await plantKeyAndIdentity(userId, `sub-${email}`, email);

      const confirmed = await fetch(`${base}/auth/verify-email`, json({ token }, registered));
      assert.equal(confirmed.status, 200);
      assert.deepEqual((await bodyOf(confirmed)).removed, {
        sessions: 1,
        apiKeys: 1,
        providers: ["idp"],
      });
      const kept = await askResolve(base, "/", { cookie: registered });
      assert.equal(kept.status, 200);
      assert.equal(kept.headers.get("x-auth-email-verified"), "true");
      assert.equal((await askResolve(base, "/", { cookie: other })).status, 401);
      assert.equal((await askResolve(base, "/", bearer(key))).status, 401);
      const notice = await smtp.next(email);
      assert.equal(notice.subject, "Your Acme Tools address is confirmed");
      assert.match(
        notice.text,
        /1 API key, the linked sign-in provider \(Test IdP\) and 1 signed-in session\b/,
      );
      assert.ok(linkTo(notice, "/auth/forgot-password"));

      // Confirmed from a browser that is not signed in to the account: every session goes.
      const elsewhere = uniqueEmail("elsewhere");
      const cookie = await register(base, elsewhere);
      const link = linkTo(await smtp.next(elsewhere), "/auth/verify-email");
      const page = await fetch(
        `${base}/auth/verify-email`,
        form({ token: link.searchParams.get("token") as string }),
      );
      assert.equal(page.status, 200);
      const text = await page.text();
      assert.match(text, /everything set up on it before was removed: 1 signed-in session\./);
      assert.match(text, /If you did not create this account yourself, choose a new password/);
      assert.match(text, /href="\/auth\/forgot-password"/);
      assert.equal((await askResolve(base, "/", { cookie })).status, 401);
      assert.equal((await login(base, elsewhere)).status, 200, "the password still signs in");
    });

    test("a reset of an address verified already is no first proof: keys and provider links stay", async () => {
      const email = uniqueEmail("verified");
      const cookie = await register(base, email);
      await smtp.next(email);
      await markVerified(server, email);
      const created = await fetch(`${base}/auth/api-keys`, json({ name: "ci" }, cookie));
      assert.equal(created.status, 201);
      const { key } = await bodyOf(created);

      await fetch(`${base}/auth/forgot-password`, json({ email }));
      const link = linkTo(await smtp.next(email), "/auth/reset-password");
      const reset = await fetch(
        `${base}/auth/reset-password`,
        json({ token: link.searchParams.get("token"), password: NEW_PASSWORD }),
      );
      assert.equal(reset.status, 200);
      assert.deepEqual(await bodyOf(reset), { status: "ok", removed: null });
      assert.equal((await askResolve(base, "/", bearer(key))).status, 200);
      assert.equal((await askResolve(base, "/", { cookie })).status, 401, "sessions still end");
      assert.doesNotMatch((await smtp.next(email)).text, /first proof/);
    });

    test("keys and provider links need a verified address; key changes need a sign-in within 5 minutes", async () => {
      const email = uniqueEmail("fresh");
      const unverified = await register(base, email);
      await smtp.next(email);
      const account = (cookie: string) => ({
        headers: { cookie, "content-type": "application/x-www-form-urlencoded", origin: base },
        method: "POST",
      });
      const asForm = await fetch(`${base}/auth/api-keys`, {
        ...account(unverified),
        body: new URLSearchParams({ name: "x" }),
      });
      assert.equal(asForm.status, 403);
      assert.match(await asForm.text(), /role="alert"[^>]*>Confirm your email address first/);
      const linkPage = await fetch(`${base}/auth/oauth/idp/link`, {
        ...account(unverified),
        redirect: "manual",
      });
      assert.equal(linkPage.status, 403);
      assert.match(await linkPage.text(), /Confirm your email address first/);

      const page = await (
        await fetch(`${base}/auth/account`, { headers: { cookie: unverified } })
      ).text();
      assert.match(page, /Confirm your email address to create API keys/);
      assert.match(page, /Confirm your email address to link a sign-in provider/);
      assert.doesNotMatch(page, /action="\/auth\/api-keys"|\/link"/);

      await markVerified(server, email);
      const verifiedPage = await (
        await fetch(`${base}/auth/account`, { headers: { cookie: unverified } })
      ).text();
      assert.match(verifiedPage, /action="\/auth\/api-keys"/);
      assert.match(verifiedPage, /needs a sign-in within the last 5 minutes/);
      assert.match(verifiedPage, /Link Test IdP/);
      const created = await fetch(`${base}/auth/api-keys`, json({ name: "ci" }, unverified));
      assert.equal(created.status, 201);
      const { key, apiKey } = await bodyOf(created);

      // Six minutes later the same session may still read, but not change keys.
      clock.advance(6 * 60 * 1000);
      assert.equal(
        (await fetch(`${base}/auth/api-keys`, { headers: { cookie: unverified } })).status,
        200,
      );
      const cases: [string, RequestInit][] = [
        ["create", json({ name: "another" }, unverified)],
        ["delete", { method: "DELETE", headers: { cookie: unverified } }],
      ];
      for (const [what, init] of cases) {
        const path = what === "create" ? "/auth/api-keys" : `/auth/api-keys/${apiKey.id}`;
        const refused = await fetch(`${base}${path}`, init);
        assert.equal(refused.status, 403, what);
        const body = await bodyOf(refused);
        assert.equal(body.error.code, "reauthentication_required", what);
        assert.match(body.error.message, /Sign in again/);
      }
      const revokeForm = await fetch(`${base}/auth/api-keys/${apiKey.id}/revoke`, {
        ...account(unverified),
        redirect: "manual",
      });
      assert.equal(revokeForm.status, 403);
      assert.match(await revokeForm.text(), /role="alert"[^>]*>Sign in again/);
      assert.equal((await askResolve(base, "/", bearer(key))).status, 200, "nothing changed");

      // Signing in again allows it.
      const fresh = sessionCookie(await login(base, email));
      const revoked = await fetch(`${base}/auth/api-keys/${apiKey.id}`, {
        method: "DELETE",
        headers: { cookie: fresh },
      });
      assert.equal(revoked.status, 200);
      assert.equal((await askResolve(base, "/", bearer(key))).status, 401);
    });

    test("sign-ins with the old password racing a reset do not survive it", async () => {
      // One hashing slot: the sign-ins queued behind the reset's hashing read
      // the old password before the reset and open their session after it.
      const racing = await startGatehouse(database, {
        SMTP_URL: smtp.url,
        PASSWORD_HASH_CONCURRENCY: "1",
        PASSWORD_HASH_QUEUE: "100",
        LOGIN_MAX_FAILURES_PER_ACCOUNT: "1000",
        LOGIN_MAX_FAILURES_PER_IP: "1000",
      });
      try {
        const email = uniqueEmail("race");
        await register(racing.url, email);
        await smtp.next(email);
        await fetch(`${racing.url}/auth/forgot-password`, json({ email }));
        const link = linkTo(await smtp.next(email), "/auth/reset-password");
        const [reset, ...logins] = await Promise.all([
          fetch(
            `${racing.url}/auth/reset-password`,
            json({ token: link.searchParams.get("token"), password: NEW_PASSWORD }),
          ),
          ...Array.from({ length: 12 }, () => login(racing.url, email, GOOD_PASSWORD)),
        ]);
        assert.equal(reset?.status, 200);
        const statuses = logins.map((response) => response.status);
        assert.ok(
          statuses.every((status) => status === 200 || status === 401),
          statuses.join(","),
        );
        const userId = await userIdOf(email);
        const left = await database.db.select().from(sessions).where(eq(sessions.userId, userId));
        assert.deepEqual(left, [], `sign-ins answered ${statuses.join(",")}`);
        for (const response of logins.filter((r) => r.status === 200))
          assert.equal(
            (await askResolve(racing.url, "/", { cookie: sessionCookie(response) })).status,
            401,
          );
      } finally {
        await racing.stop();
      }
    });
  });
}
