// GitHub, Google and Discord, whose endpoints are fixed public URLs, spoken
// by a local server that this process's HTTP client is pointed at. What each
// adapter sends (authorization URL, PKCE, nonce, client authentication) and
// how it reads the profile (GitHub's emails API, Google's signed ID token,
// Discord's verified flag).
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { users } from "../../src/db/schema.ts";
import { CookieBrowser } from "../helpers/cookie-browser.ts";
import {
  type FakeProviders,
  type FakeUser,
  routeToFake,
  startFakeProviders,
} from "../helpers/fake-providers.ts";
import {
  askResolve,
  type RunningGatehouse,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { freePort } from "../helpers/ports.ts";

describe("providers at fixed public URLs", () => {
  let fake: FakeProviders;
  let restoreFetch: () => void;
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  let base: string;
  let apple: ReturnType<typeof generateKeyPairSync>;

  before(async () => {
    fake = await startFakeProviders();
    restoreFetch = routeToFake(fake);
    for (const id of ["gh-client", "google-client", "discord-client"])
      fake.clients.set(id, `${id}-secret`);
    apple = generateKeyPairSync("ec", { namedCurve: "P-256" });
    fake.appleClients.set(
      "com.example.web",
      apple.publicKey.export({ type: "spki", format: "pem" }).toString(),
    );
    database = await openDatabase({ kind: "pglite" });
    const closed = await freePort();
    server = await startGatehouse(database, {
      OAUTH_PROVIDERS: `[
        { id: github, type: github, client_id: gh-client, client_secret_env: GH_SECRET },
        { id: google, type: google, client_id: google-client, client_secret_env: GOOGLE_SECRET },
        { id: discord, type: discord, client_id: discord-client, client_secret_env: DISCORD_SECRET },
        { id: apple, type: apple, client_id: com.example.web, team_id: TEAM1, key_id: KEY1, private_key_env: APPLE_KEY },
        { id: down, type: oidc, issuer: "http://127.0.0.1:${closed}", client_id: x, client_secret_env: GH_SECRET, display_name: "Down IdP" }
      ]`,
      APPLE_KEY: apple.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      OAUTH_TIMEOUT: "1s",
      GH_SECRET: "gh-client-secret",
      GOOGLE_SECRET: "google-client-secret",
      DISCORD_SECRET: "discord-client-secret",
    });
    base = server.url;
  });
  after(async () => {
    restoreFetch?.();
    await server?.stop();
    await database?.close();
    await fake?.stop();
  });

  /** Starts a sign-in, checks where the browser is sent, approves as `user`, and finishes it. */
  async function signIn(provider: string, user: FakeUser, tamper?: (url: URL) => void, at = base) {
    const browser = new CookieBrowser();
    const start = await browser.request(`${at}/auth/oauth/${provider}`);
    assert.equal(start.status, 302);
    const authorization = new URL(start.headers.get("location") as string);
    const state = authorization.searchParams.get("state") as string;
    assert.ok(state.length >= 20);
    tamper?.(authorization);
    const code = fake.approve(authorization, user);
    const redirectUri = new URL(authorization.searchParams.get("redirect_uri") as string);
    assert.equal(redirectUri.href, `${at}/auth/oauth/${provider}/callback`);
    redirectUri.search = new URLSearchParams({ code, state }).toString();
    const done = await browser.request(redirectUri);
    const cookie = browser.cookies.get("gatehouse_session");
    return { authorization, done, cookie: cookie ? `gatehouse_session=${cookie}` : null };
  }

  const user = (tag: string, verified = true): FakeUser => ({
    id: String(Math.floor(Math.random() * 1e9)),
    email: uniqueEmail(tag),
    verified,
    name: `Test ${tag}`,
  });

  test("GitHub: scopes for the emails API, the primary verified address, and no unverified one counts as verified", async () => {
    const ada = user("github");
    const { authorization, done, cookie } = await signIn("github", ada);
    assert.equal(authorization.host, "github.com");
    assert.equal(authorization.pathname, "/login/oauth/authorize");
    assert.equal(authorization.searchParams.get("client_id"), "gh-client");
    assert.equal(authorization.searchParams.get("scope"), "read:user user:email");
    assert.equal(done.status, 303);
    const resolved = await askResolve(base, "/", { cookie: cookie as string });
    assert.equal(resolved.headers.get("x-auth-method"), "oauth:github");
    assert.equal(resolved.headers.get("x-auth-email"), ada.email);
    assert.equal(resolved.headers.get("x-auth-email-verified"), "true");

    // The primary address is unverified: a verified secondary one is used instead.
    const secondary = uniqueEmail("secondary");
    const mixed = {
      ...user("mixed"),
      emails: [
        { email: uniqueEmail("primary"), primary: true, verified: false },
        { email: secondary, primary: false, verified: true },
      ],
    };
    const second = await signIn("github", mixed);
    const info = await askResolve(base, "/", { cookie: second.cookie as string });
    assert.equal(info.headers.get("x-auth-email"), secondary);
    assert.equal(info.headers.get("x-auth-email-verified"), "true");

    // Only an unverified address: the account is created unverified.
    const unverified = user("unverified", false);
    const third = await signIn("github", unverified);
    const [row] = await database.db.select().from(users).where(eq(users.email, unverified.email));
    assert.equal(row?.emailVerified, false);
    assert.equal(
      (await askResolve(base, "/", { cookie: third.cookie as string })).headers.get(
        "x-auth-email-verified",
      ),
      "false",
    );
  });

  test("Google: PKCE and a nonce on the way out, a signed ID token checked on the way back", async () => {
    const grace = user("google");
    const { authorization, done, cookie } = await signIn("google", grace);
    assert.equal(authorization.host, "accounts.google.com");
    assert.equal(authorization.searchParams.get("code_challenge_method"), "S256");
    assert.ok(authorization.searchParams.get("nonce"));
    assert.equal(authorization.searchParams.get("scope"), "openid email profile");
    assert.equal(done.status, 303);
    const resolved = await askResolve(base, "/", { cookie: cookie as string });
    assert.equal(resolved.headers.get("x-auth-method"), "oauth:google");
    assert.equal(resolved.headers.get("x-auth-email"), grace.email);

    // An ID token minted for another sign-in (its nonce) is refused; nothing is created.
    const mallory = user("google-replay");
    const replay = await signIn("google", mallory, (url) =>
      url.searchParams.set("nonce", "from-another-flow"),
    );
    assert.equal(replay.done.status, 400);
    assert.match(await replay.done.text(), /nonce does not match/);
    assert.equal(replay.cookie, null);
    assert.equal(
      (await database.db.select().from(users).where(eq(users.email, mallory.email))).length,
      0,
    );

    // A code whose PKCE challenge was for another verifier is refused by the provider.
    const pkce = await signIn("google", user("google-pkce"), (url) =>
      url.searchParams.set("code_challenge", "A".repeat(43)),
    );
    assert.equal(pkce.done.status, 400);
    assert.match(await pkce.done.text(), /invalid_grant/);
  });

  test("Discord: the verified flag decides whether the address counts as verified", async () => {
    const linus = user("discord", false);
    const { authorization, done, cookie } = await signIn("discord", linus);
    assert.equal(authorization.host, "discord.com");
    assert.equal(done.status, 303);
    const resolved = await askResolve(base, "/", { cookie: cookie as string });
    assert.equal(resolved.headers.get("x-auth-method"), "oauth:discord");
    assert.equal(resolved.headers.get("x-auth-email-verified"), "false");
  });

  test("Apple: the answer comes back as a cross-site form POST, with a client secret signed by the team key", async () => {
    const tim = user("apple");
    const browser = new CookieBrowser();
    const start = await browser.request(`${base}/auth/oauth/apple`);
    const authorization = new URL(start.headers.get("location") as string);
    assert.equal(
      `${authorization.origin}${authorization.pathname}`,
      "https://appleid.apple.com/auth/authorize",
    );
    assert.equal(authorization.searchParams.get("response_mode"), "form_post");
    const code = fake.approve(authorization, tim);
    const done = await browser.request(`${base}/auth/oauth/apple/callback`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: "https://appleid.apple.com",
        "sec-fetch-site": "cross-site",
      },
      body: new URLSearchParams({
        code,
        state: authorization.searchParams.get("state") as string,
      }).toString(),
    });
    assert.equal(done.status, 303);
    const cookie = `gatehouse_session=${browser.cookies.get("gatehouse_session")}`;
    const resolved = await askResolve(base, "/", { cookie });
    assert.equal(resolved.headers.get("x-auth-method"), "oauth:apple");
    assert.equal(
      resolved.headers.get("x-auth-email-verified"),
      "true",
      'Apple\'s "true" string counts',
    );
    // Other endpoints still refuse cross-site posts.
    const logout = await fetch(`${base}/auth/logout`, {
      method: "POST",
      headers: { cookie, origin: "https://appleid.apple.com" },
    });
    assert.equal(logout.status, 403);
  });

  test("a provider that does not answer in OAUTH_TIMEOUT ends on a readable page", async () => {
    fake.hang = true;
    try {
      const started = performance.now();
      const { done, cookie } = await signIn("github", user("slow"));
      assert.equal(done.status, 502);
      assert.match(await done.text(), /did not answer in time/);
      assert.equal(cookie, null);
      assert.ok(performance.now() - started < 5000);
    } finally {
      fake.hang = false;
    }
  });

  test("with registration closed, a provider sign-in finds existing accounts but creates none", async () => {
    const closed = await startGatehouse(database, {
      OAUTH_PROVIDERS:
        "[{ id: github, type: github, client_id: gh-client, client_secret_env: GH_SECRET }]",
      GH_SECRET: "gh-client-secret",
      REGISTRATION_ENABLED: "false",
    });
    try {
      const known = user("known");
      await signIn("github", known); // on the open server: the account exists now
      const again = await signIn("github", known, undefined, closed.url);
      assert.equal(again.done.status, 303);
      const stranger = await signIn("github", user("stranger"), undefined, closed.url);
      assert.equal(stranger.done.status, 403);
      assert.match(await stranger.done.text(), /registration is closed/);
    } finally {
      await closed.stop();
    }
  });

  test("a provider that cannot be reached ends on a readable page, and the login page offers every provider", async () => {
    const down = await fetch(`${base}/auth/oauth/down`, { redirect: "manual" });
    assert.equal(down.status, 502);
    assert.match(await down.text(), /Down IdP cannot be reached right now/);
    const login = await (
      await fetch(`${base}/auth/login?rd=${encodeURIComponent(`${base}/x`)}`)
    ).text();
    for (const name of ["GitHub", "Google", "Discord", "Down IdP"])
      assert.match(login, new RegExp(`Sign in with ${name}`));
    assert.match(login, /href="\/auth\/oauth\/github\?rd=/);
  });
});
