// Signing out in both directions with a real OpenID Connect provider
// (oidc-provider on loopback, both features on), on both storage backends:
// - back-channel logout: the provider's admin ends the user's session and
//   gatehouse's session from it ends; the user's API key does not; every
//   forged, replayed, stale or malformed logout token gets 400 and changes
//   nothing; a body that is not a form is refused before it is read;
// - RP-initiated logout: signing out of a session from a provider set to
//   `logout: provider` goes through the provider's end_session_endpoint with
//   id_token_hint and the registered post-logout landing, and lands on the
//   validated return target (never on one that is not allowed).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { decodeJwt, SignJWT } from "jose";
import type { DatabaseHandle } from "../../src/db/client.ts";
import { providerSessions, sessions } from "../../src/db/schema.ts";
import { hashToken } from "../../src/kernel/tokens.ts";
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

const FORM = { "content-type": "application/x-www-form-urlencoded" };

for (const backend of backends) {
  describe(`signing out with an OpenID Connect provider (${backend.name})`, () => {
    let provider: RunningOidcProvider;
    let database: DatabaseHandle;
    let server: RunningGatehouse;
    let base: string;

    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      provider = await startOidcProvider({
        redirectUris: [`${base}/auth/oauth/idp/callback`],
        postLogoutRedirectUris: [`${base}/auth/oauth/idp/logged-out`],
        backchannelLogoutUri: `${base}/auth/oauth/idp/backchannel-logout`,
      });
      database = await backend.open();
      server = await startGatehouse(
        database,
        {
          OAUTH_PROVIDERS: `[{ id: idp, type: oidc, issuer: "${provider.issuer}", client_id: ${provider.clientId}, client_secret_env: IDP_SECRET, logout: provider }]`,
          IDP_SECRET: provider.clientSecret,
          ALLOWED_REDIRECT_HOSTS: "app.example.test",
        },
        { port },
      );
    });
    after(async () => {
      await server?.stop();
      await database?.close();
      await provider?.stop();
    });

    /** A whole sign-in at the provider; the browser keeps the provider's cookies too. */
    async function signIn(
      sub: string,
      email = uniqueEmail("logout"),
      browser = new CookieBrowser(),
    ) {
      provider.nextUser({ sub, email, email_verified: true, name: "Grace" });
      await browser.follow(
        `${base}/auth/oauth/idp`,
        {},
        (next) => next.pathname === "/auth/account",
      );
      const token = browser.cookies.get("gatehouse_session");
      assert.ok(token, "signed in");
      return { browser, cookie: `gatehouse_session=${token}`, email };
    }

    const resolves = async (cookie: string) => (await askResolve(base, "/", { cookie })).status;
    const postLogoutToken = (token: string, headers: Record<string, string> = FORM) =>
      fetch(`${base}/auth/oauth/idp/backchannel-logout`, {
        method: "POST",
        headers,
        body: new URLSearchParams({ logout_token: token }).toString(),
      });

    test("the provider's admin ends the session: gatehouse's session ends, the API key stays", async () => {
      const sub = `sub-${crypto.randomUUID()}`;
      const { cookie } = await signIn(sub);
      const other = await signIn(`sub-${crypto.randomUUID()}`);
      const created = await fetch(`${base}/auth/api-keys`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie },
        body: JSON.stringify({ name: "ci" }),
      });
      assert.equal(created.status, 201, await created.clone().text());
      const { key } = await bodyOf(created);
      assert.equal(await resolves(cookie), 200);

      const [row] = await database.db.select().from(providerSessions);
      assert.ok(row?.sid, "the session remembers the provider's sid");
      assert.match(
        row.idToken ?? "",
        /^ey[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/,
        "the ID token is sealed",
      );

      await provider.endSessionsOf(sub);
      assert.equal(provider.backchannel.error.length, 0, provider.backchannel.error.join("; "));
      assert.equal(await resolves(cookie), 401, "the session from the provider is gone");
      assert.equal(await resolves(other.cookie), 200, "another user's session stays");
      const byKey = await askResolve(base, "/", { authorization: `Bearer ${key}` });
      assert.equal(byKey.status, 200, "the API key is not a session: it stays");
    });

    test("a sign-in finished with a second factor ends with the provider's session too", async () => {
      const sub = `sub-${crypto.randomUUID()}`;
      const { browser, cookie, email } = await signIn(sub);
      const { secret } = await bodyOf(await fetch(`${base}/auth/mfa/totp`, postJson({}, cookie)));
      const confirmed = await fetch(
        `${base}/auth/mfa/totp/confirm`,
        postJson({ code: totpCodeAt(secret, Date.now() - 30_000) }, cookie),
      );
      assert.equal(confirmed.status, 200, await confirmed.clone().text());
      // Again, in the same provider session: half signed in, then the factor.
      provider.nextUser({ sub, email, email_verified: true, name: "Grace" });
      const { hops } = await browser.follow(`${base}/auth/oauth/idp`);
      assert.equal(hops.at(-1)?.url.pathname, "/auth/mfa");
      const verified = await browser.request(new URL(`${base}/auth/mfa/verify`), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ kind: "totp", code: totpCodeAt(secret, Date.now()) }),
      });
      assert.equal(verified.status, 200, await verified.clone().text());
      const second = `gatehouse_session=${browser.cookies.get("gatehouse_session")}`;
      assert.notEqual(second, cookie);
      assert.equal(await resolves(second), 200);
      await provider.endSessionsOf(sub);
      assert.equal(provider.backchannel.error.length, 0, provider.backchannel.error.join("; "));
      assert.equal(await resolves(cookie), 401);
      assert.equal(await resolves(second), 401, "the session made by the second factor is gone");
      // Half signed in when the provider ends its session: the factor makes nothing then.
      provider.nextUser({ sub, email, email_verified: true, name: "Grace" });
      assert.equal(
        (await browser.follow(`${base}/auth/oauth/idp`)).hops.at(-1)?.url.pathname,
        "/auth/mfa",
      );
      await provider.endSessionsOf(sub);
      assert.equal(provider.backchannel.error.length, 0, provider.backchannel.error.join("; "));
      const late = await browser.request(new URL(`${base}/auth/mfa/verify`), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ kind: "totp", code: totpCodeAt(secret, Date.now() + 30_000) }),
      });
      assert.equal(late.status, 401, await late.clone().text());
      assert.deepEqual(
        late.headers.getSetCookie().filter((one) => /^gatehouse_session=[^;]/.test(one)),
        [],
      );
    });

    test("a replayed logout token changes nothing, even for a new session with the same sid", async () => {
      const sub = `sub-${crypto.randomUUID()}`;
      const browser = new CookieBrowser();
      const first = await signIn(sub, undefined, browser);
      const sid = provider.sids.get(sub)?.[0];
      assert.ok(sid);
      const token = await provider.signLogoutToken({ sub, sid });
      const answer = await postLogoutToken(token);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("cache-control"), "no-store");
      assert.equal((await bodyOf(answer)).sessions, 1);
      assert.equal(await resolves(first.cookie), 401);

      // Signed in again within the same provider session: the same sid.
      const second = await signIn(sub, first.email, browser);
      assert.equal(provider.sids.get(sub)?.[1], sid, "the provider kept its session");
      const replay = await postLogoutToken(token);
      assert.equal(replay.status, 400);
      assert.match((await bodyOf(replay)).error_description, /used before/);
      assert.equal(await resolves(second.cookie), 200, "the replay signed nobody out");
    });

    test("forged, misdirected, stale and malformed logout tokens get 400 and change nothing", async () => {
      const sub = `sub-${crypto.randomUUID()}`;
      const { cookie } = await signIn(sub);
      const sid = provider.sids.get(sub)?.[0] as string;
      const now = Math.floor(Date.now() / 1000);
      const cases: [string, Promise<string>][] = [
        ["signed by another key", provider.signLogoutToken({ sub, sid }, { foreignKey: true })],
        ["for another client", provider.signLogoutToken({ sub, sid, aud: "someone-else" })],
        ["from another issuer", provider.signLogoutToken({ sub, sid, iss: "http://127.0.0.1:1" })],
        [
          "issued an hour ago",
          provider.signLogoutToken({ sub, sid, iat: now - 3600, exp: now + 60 }),
        ],
        ["issued in the future", provider.signLogoutToken({ sub, sid, iat: now + 3600 })],
        ["expired", provider.signLogoutToken({ sub, sid, iat: now - 200, exp: now - 100 })],
        ["with a nonce (an ID token)", provider.signLogoutToken({ sub, sid, nonce: "n" })],
        ["without events", provider.signLogoutToken({ sub, sid, events: undefined })],
        [
          "with another event",
          provider.signLogoutToken({ sub, sid, events: { "http://example.test/other": {} } }),
        ],
        [
          "with the event as a string",
          provider.signLogoutToken({
            sub,
            sid,
            events: { "http://schemas.openid.net/event/backchannel-logout": "yes" },
          }),
        ],
        ["without sid and sub", provider.signLogoutToken({})],
        ["without jti", provider.signLogoutToken({ sub, sid, jti: undefined })],
        ["without iat", provider.signLogoutToken({ sub, sid, iat: undefined })],
        ["unsigned", Promise.resolve(unsigned({ iss: provider.issuer, sub, sid }))],
        [
          "HS256 keyed with the provider's public key",
          confused({ iss: provider.issuer, aud: provider.clientId, sub, sid }, provider.issuer),
        ],
        ["not a JWT", Promise.resolve("not-a-jwt")],
      ];
      for (const [name, made] of cases) {
        const answer = await postLogoutToken(await made);
        assert.equal(answer.status, 400, name);
        assert.equal(answer.headers.get("cache-control"), "no-store", name);
        const body = await bodyOf(answer);
        assert.equal(body.error, "invalid_request", name);
        assert.equal(typeof body.error_description, "string", name);
        assert.equal(await resolves(cookie), 200, `${name}: the session is still there`);
      }
      // None of them used up anything: the provider's real token still works.
      await provider.endSessionsOf(sub);
      assert.equal(await resolves(cookie), 401);
    });

    test("a valid logout token for an unknown sid is answered 200 and ends nothing else", async () => {
      const { cookie } = await signIn(`sub-${crypto.randomUUID()}`);
      const answer = await postLogoutToken(await provider.signLogoutToken({ sid: "no-such-sid" }));
      assert.equal(answer.status, 200);
      assert.equal((await bodyOf(answer)).sessions, 0);
      assert.equal(await resolves(cookie), 200);
    });

    test("a logout token naming a sid with another subject ends nothing", async () => {
      const sub = `sub-${crypto.randomUUID()}`;
      const { cookie } = await signIn(sub);
      const sid = provider.sids.get(sub)?.[0] as string;
      const answer = await postLogoutToken(
        await provider.signLogoutToken({ sid, sub: `someone-else-${crypto.randomUUID()}` }),
      );
      assert.equal(answer.status, 200);
      assert.equal((await bodyOf(answer)).sessions, 0);
      assert.equal(await resolves(cookie), 200);
    });

    test("a logout token by sub alone ends every session of that subject from this provider", async () => {
      const sub = `sub-${crypto.randomUUID()}`;
      const one = await signIn(sub);
      const two = await signIn(sub, one.email);
      const answer = await postLogoutToken(await provider.signLogoutToken({ sub }));
      assert.equal(answer.status, 200);
      assert.equal((await bodyOf(answer)).sessions, 2);
      assert.equal(await resolves(one.cookie), 401);
      assert.equal(await resolves(two.cookie), 401);
    });

    test("bodies that are not one form-encoded logout_token are refused", async () => {
      const token = await provider.signLogoutToken({ sub: "x" });
      const json = await fetch(`${base}/auth/oauth/idp/backchannel-logout`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ logout_token: token }),
      });
      assert.equal(json.status, 415);
      const none = await fetch(`${base}/auth/oauth/idp/backchannel-logout`, {
        method: "POST",
        headers: FORM,
        body: "",
      });
      assert.equal(none.status, 400);
      const twice = await fetch(`${base}/auth/oauth/idp/backchannel-logout`, {
        method: "POST",
        headers: FORM,
        body: `logout_token=${token}&logout_token=${token}`,
      });
      assert.equal(twice.status, 400);
      const huge = await fetch(`${base}/auth/oauth/idp/backchannel-logout`, {
        method: "POST",
        headers: FORM,
        body: `logout_token=${"a".repeat(64 * 1024)}`,
      });
      assert.equal(huge.status, 413);
      const unknown = await fetch(`${base}/auth/oauth/nope/backchannel-logout`, {
        method: "POST",
        headers: FORM,
        body: `logout_token=${token}`,
      });
      assert.equal(unknown.status, 404);
      const get = await fetch(`${base}/auth/oauth/idp/backchannel-logout`);
      assert.equal(get.status, 405);
    });

    test("RP-initiated logout ends the provider's session and lands on the validated target", async () => {
      const sub = `sub-${crypto.randomUUID()}`;
      const { browser, cookie } = await signIn(sub);
      const rd = "http://app.example.test/goodbye?x=1";
      const out = await browser.request(`${base}/auth/logout?rd=${encodeURIComponent(rd)}`, {
        method: "POST",
      });
      assert.equal(out.status, 303);
      const endSession = new URL(out.headers.get("location") ?? "");
      assert.equal(endSession.origin, provider.issuer);
      const hint = endSession.searchParams.get("id_token_hint") ?? "";
      assert.equal(decodeJwt(hint).sub, sub, "the ID token of this sign-in is the hint");
      assert.equal(endSession.searchParams.get("client_id"), provider.clientId);
      assert.equal(
        endSession.searchParams.get("post_logout_redirect_uri"),
        `${base}/auth/oauth/idp/logged-out`,
      );
      assert.equal(await resolves(cookie), 401, "gatehouse's session ended first");
      const landed = await confirmAtProvider(browser, endSession);
      assert.equal(landed.href, rd, "the browser lands on the return target");
      assert.equal(provider.backchannel.error.length, 0, provider.backchannel.error.join("; "));
    });

    test("RP-initiated logout from a satellite's session (SITES) names the sign-in's ID token", async () => {
      const sub = `sub-${crypto.randomUUID()}`;
      const { cookie } = await signIn(sub);
      const homeId = hashToken(cookie.split("=")[1] as string);
      const [home] = await database.db.select().from(sessions).where(eq(sessions.id, homeId));
      assert.ok(home);
      // The session a hop makes from it (sites/hop-codes.ts): the sign-in's, for a satellite.
      const satellite = {
        ...home,
        id: hashToken(crypto.randomUUID()),
        signInId: home.id,
        site: "shop.example",
      };
      await database.db.insert(sessions).values(satellite);
      const url = new URL(
        (await server.gatehouse.oauth.endSessionUrl(satellite, undefined)) as string,
      );
      assert.equal(url.origin, provider.issuer);
      const hint = url.searchParams.get("id_token_hint") ?? "";
      assert.ok(hint, "the provider is told which session ends");
      assert.equal(decodeJwt(hint).sub, sub);
    });

    test("a back-channel logout ends every site's session of the sign-in (SITES)", async () => {
      const sub = `sub-${crypto.randomUUID()}`;
      const { cookie } = await signIn(sub);
      const homeId = hashToken(cookie.split("=")[1] as string);
      const [home] = await database.db.select().from(sessions).where(eq(sessions.id, homeId));
      assert.ok(home);
      const satelliteId = hashToken(crypto.randomUUID());
      await database.db
        .insert(sessions)
        .values({ ...home, id: satelliteId, signInId: home.id, site: "shop.example" });
      await provider.endSessionsOf(sub);
      assert.equal(provider.backchannel.error.length, 0, provider.backchannel.error.join("; "));
      assert.equal(await resolves(cookie), 401);
      const left = await database.db.select().from(sessions).where(eq(sessions.id, satelliteId));
      assert.deepEqual(left, [], "the satellite's session of that sign-in is gone too");
    });

    test("RP-initiated logout with a target that is not allowed lands on the sign-in page", async () => {
      const { browser } = await signIn(`sub-${crypto.randomUUID()}`);
      const out = await browser.request(
        `${base}/auth/logout?rd=${encodeURIComponent("https://evil.example/")}`,
        { method: "POST" },
      );
      const landed = await confirmAtProvider(browser, new URL(out.headers.get("location") ?? ""));
      assert.equal(landed.href, `${base}/auth/login`);
      // A state made up by anyone is validated on landing too.
      const forged = `x.${Buffer.from("https://evil.example/").toString("base64url")}`;
      const direct = await fetch(`${base}/auth/oauth/idp/logged-out?state=${forged}`, {
        redirect: "manual",
      });
      assert.equal(direct.status, 303);
      assert.equal(direct.headers.get("location"), "/auth/login");
      for (const target of [
        "//evil.example/",
        "javascript:alert(1)",
        "http://app.example.test.evil.example/",
      ]) {
        const state = `x.${Buffer.from(target).toString("base64url")}`;
        const answer = await fetch(`${base}/auth/oauth/idp/logged-out?state=${state}`, {
          redirect: "manual",
        });
        assert.equal(answer.headers.get("location"), "/auth/login", target);
      }
    });

    test("a JSON caller of logout gets the provider's URL instead of a redirect", async () => {
      const { cookie } = await signIn(`sub-${crypto.randomUUID()}`);
      const out = await fetch(`${base}/auth/logout`, {
        method: "POST",
        headers: { cookie, accept: "application/json" },
      });
      assert.equal(out.status, 200);
      const body = await bodyOf(out);
      assert.equal(body.status, "ok");
      assert.equal(new URL(body.redirect).origin, provider.issuer);
      assert.equal(await resolves(cookie), 401);
    });
  });
}

/** An `alg: none` token: never accepted. */
function unsigned(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none" })}.${part({
    aud: "gatehouse-test",
    iat: Math.floor(Date.now() / 1000),
    jti: crypto.randomUUID(),
    events: { "http://schemas.openid.net/event/backchannel-logout": {} },
    ...claims,
  })}.`;
}

/** Algorithm confusion: HMAC-signed with the provider's published (public) key as the secret. */
async function confused(claims: Record<string, unknown>, issuer: string): Promise<string> {
  const meta = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const published = (await (await fetch(meta.jwks_uri)).json()).keys[0];
  return new SignJWT({
    iat: Math.floor(Date.now() / 1000),
    jti: crypto.randomUUID(),
    events: { "http://schemas.openid.net/event/backchannel-logout": {} },
    ...claims,
  })
    .setProtectedHeader({ alg: "HS256", kid: published.kid })
    .sign(new TextEncoder().encode(JSON.stringify(published)));
}

/** At the provider's end-session page: confirms the sign-out, follows back; where the browser lands. */
async function confirmAtProvider(browser: CookieBrowser, endSession: URL): Promise<URL> {
  const page = await browser.request(endSession);
  assert.equal(page.status, 200, "the provider asks to confirm");
  const html = await page.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(action && xsrf, "the provider's confirmation form");
  const { stoppedAt, response } = await browser.follow(
    new URL(action, endSession),
    {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ xsrf, logout: "yes" }).toString(),
    },
    (next) => next.host === "app.example.test" || next.pathname === "/auth/login",
  );
  assert.ok(stoppedAt, `the browser is sent on (${response?.status})`);
  return stoppedAt;
}
