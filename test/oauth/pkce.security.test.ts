// Bug class that must stay closed (issue 12): "PKCE skipped when the verifier
// is omitted". Every sign-in sends an S256 challenge, and a callback whose
// verifier is missing, empty, another flow's, or offered by the request itself
// ends on a 400 page with no session and nothing created. Against a real
// OpenID Connect provider on loopback.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { count, eq } from "drizzle-orm";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { oauthFlows, oauthIdentities } from "../../src/db/schema.ts";
import { CookieBrowser } from "../helpers/cookie-browser.ts";
import { type RunningGatehouse, startGatehouse, uniqueEmail } from "../helpers/gatehouse.ts";
import { type RunningOidcProvider, startOidcProvider } from "../helpers/oidc-provider.ts";
import { freePort } from "../helpers/ports.ts";

const isCallback = (url: URL) => url.pathname.endsWith("/callback");

describe("PKCE cannot be skipped", () => {
  let provider: RunningOidcProvider;
  let database: DatabaseHandle;
  let server: RunningGatehouse;
  let base: string;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    provider = await startOidcProvider({ redirectUris: [`${base}/auth/oauth/idp/callback`] });
    database = await openDatabase({ kind: "pglite" });
    server = await startGatehouse(
      database,
      {
        OAUTH_PROVIDERS: `[{ id: idp, type: oidc, issuer: "${provider.issuer}", client_id: ${provider.clientId}, client_secret_env: IDP_SECRET, display_name: "Test IdP" }]`,
        IDP_SECRET: provider.clientSecret,
      },
      { port },
    );
  });
  after(async () => {
    await server?.stop();
    await database?.close();
    await provider?.stop();
  });

  /** A sign-in up to the provider's answer: the browser, the callback URL and where it went to sign in. */
  async function upToCallback(sub: string) {
    const browser = new CookieBrowser();
    provider.nextUser({ sub, email: `${sub}@example.test`, email_verified: true });
    const start = await browser.request(`${base}/auth/oauth/idp`);
    const authorization = new URL(start.headers.get("location") ?? "");
    const { stoppedAt } = await browser.follow(authorization, {}, isCallback);
    assert.ok(stoppedAt, "the provider sends the browser back");
    const handle = browser.cookies.get("gatehouse_session_oauth") ?? "";
    return { browser, callback: stoppedAt, authorization, handle };
  }

  const identitiesOf = async (sub: string) =>
    (
      await database.db
        .select({ n: count() })
        .from(oauthIdentities)
        .where(eq(oauthIdentities.subject, sub))
    )[0]?.n;

  test("every authorization request carries an S256 challenge, and each flow its own verifier", async () => {
    const first = await upToCallback(uniqueEmail("pkce-a").split("@")[0] as string);
    const second = await upToCallback(uniqueEmail("pkce-b").split("@")[0] as string);
    for (const { authorization } of [first, second]) {
      assert.equal(authorization.searchParams.get("code_challenge_method"), "S256");
      assert.match(authorization.searchParams.get("code_challenge") ?? "", /^[\w-]{43}$/);
    }
    assert.notEqual(
      first.authorization.searchParams.get("code_challenge"),
      second.authorization.searchParams.get("code_challenge"),
    );
    const verifiers = await database.db.select({ v: oauthFlows.codeVerifier }).from(oauthFlows);
    assert.ok(verifiers.every(({ v }) => /^[\w-]{43,128}$/.test(v)));
  });

  test("a callback without its stored verifier is refused", async () => {
    type Case = [
      what: string,
      tamper: (
        flow: Awaited<ReturnType<typeof upToCallback>>,
      ) => Promise<{ url: URL; browser: CookieBrowser }>,
      expected: RegExp,
    ];
    const setVerifier = async (value: string) => {
      await database.db.update(oauthFlows).set({ codeVerifier: value });
    };
    const cases: Case[] = [
      [
        "no flow cookie: no verifier to send",
        async ({ callback }) => ({ url: callback, browser: new CookieBrowser() }),
        /not started in this browser/,
      ],
      [
        "the stored verifier is empty",
        async ({ callback, browser }) => {
          await setVerifier("");
          return { url: callback, browser };
        },
        /could not sign you in/,
      ],
      [
        "the stored verifier is empty and the request offers one",
        async ({ callback, browser, authorization }) => {
          await setVerifier("");
          const url = new URL(callback);
          // Whatever a request says, the verifier comes only from the stored flow.
          url.searchParams.set(
            "code_verifier",
            authorization.searchParams.get("code_challenge") ?? "",
          );
          return { url, browser };
        },
        /could not sign you in/,
      ],
      [
        "another flow's verifier",
        async ({ callback, browser }) => {
          await setVerifier("a".repeat(43));
          return { url: callback, browser };
        },
        /could not sign you in.*invalid_grant/,
      ],
    ];
    for (const [what, tamper, expected] of cases) {
      await database.db.delete(oauthFlows);
      const sub = uniqueEmail("pkce").split("@")[0] as string;
      const flow = await upToCallback(sub);
      const { url, browser } = await tamper(flow);
      const answer = await browser.request(url);
      assert.equal(answer.status, 400, what);
      assert.match(await answer.text(), expected, what);
      assert.equal(browser.cookies.has("gatehouse_session"), false, `${what}: no session`);
      assert.equal(await identitiesOf(sub), 0, `${what}: nothing created`);
      // A presented flow is used up: the untampered callback cannot be replayed afterwards.
      if (browser === flow.browser) {
        const replay = await flow.browser.request(flow.callback);
        assert.equal(replay.status, 400, `${what}: used up`);
      }
    }
  });
});
