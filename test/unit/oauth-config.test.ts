// Provider settings: one of each family builds and sends the browser to the
// right place with the right parameters; mistakes are reported by name; the
// token vault seals, opens and rotates.
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { buildProvider } from "../../src/oauth/provider.ts";
import { PROVIDER_FAMILIES } from "../../src/oauth/provider-table.ts";
import { createTokenVault } from "../../src/oauth/token-vault.ts";

const applePem = generateKeyPairSync("ec", { namedCurve: "P-256" })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString();

const PROVIDERS = `[
  { id: gh, type: github, client_id: a, client_secret_env: SECRET },
  { id: g, type: google, client_id: a, client_secret_env: SECRET },
  { id: d, type: discord, client_id: a, client_secret_env: SECRET },
  { id: ms, type: microsoft-entra-id, tenant: contoso, client_id: a, client_secret_env: SECRET },
  { id: gl, type: gitlab, base_url: "https://git.example.com", client_id: a, client_secret_env: SECRET },
  { id: kc, type: keycloak, realm_url: "https://kc.example.com/realms/acme", client_id: a, client_secret_env: SECRET },
  { id: a0, type: auth0, domain: acme.eu.auth0.com, client_id: a, client_secret_env: SECRET },
  { id: ok, type: okta, domain: acme.okta.com, authorization_server_id: default, client_id: a, client_secret_env: SECRET },
  { id: ak, type: authentik, base_url: "https://ak.example.com", application_slug: apps, client_id: a, client_secret_env: SECRET },
  { id: gt, type: gitea, base_url: "https://gitea.example.com", client_id: a, client_secret_env: SECRET },
  { id: ap, type: apple, client_id: com.example.web, team_id: TEAM, key_id: KEY, private_key_env: APPLE_KEY }
]`;

const EXPECTED: Record<string, { url: string; pkce: boolean; nonce: boolean }> = {
  gh: { url: "https://github.com/login/oauth/authorize", pkce: false, nonce: false },
  g: { url: "https://accounts.google.com/o/oauth2/v2/auth", pkce: true, nonce: true },
  d: { url: "https://discord.com/oauth2/authorize", pkce: true, nonce: false },
  ms: {
    url: "https://login.microsoftonline.com/contoso/oauth2/v2.0/authorize",
    pkce: true,
    nonce: true,
  },
  gl: { url: "https://git.example.com/oauth/authorize", pkce: false, nonce: true },
  kc: {
    url: "https://kc.example.com/realms/acme/protocol/openid-connect/auth",
    pkce: true,
    nonce: true,
  },
  a0: { url: "https://acme.eu.auth0.com/authorize", pkce: true, nonce: true },
  ok: { url: "https://acme.okta.com/oauth2/default/v1/authorize", pkce: true, nonce: true },
  ak: { url: "https://ak.example.com/application/o/authorize/", pkce: true, nonce: true },
  gt: { url: "https://gitea.example.com/login/oauth/authorize", pkce: true, nonce: true },
  ap: { url: "https://appleid.apple.com/auth/authorize", pkce: false, nonce: true },
};

test("one provider of each family: the browser goes to the provider's own endpoint with state, PKCE and nonce where they apply", async () => {
  const config = loadConfig({ OAUTH_PROVIDERS: PROVIDERS, SECRET: "s3cret", APPLE_KEY: applePem });
  assert.equal(config.oauth_providers.length, Object.keys(EXPECTED).length);
  // A new family in the table gets a line here too (the generic oidc one is driven by oidc-login).
  assert.deepEqual(
    PROVIDER_FAMILIES.map((family) => family.type).filter((type) => type !== "oidc"),
    config.oauth_providers.map((provider) => provider.type),
  );
  for (const settings of config.oauth_providers) {
    const provider = buildProvider(settings, {
      redirectUri: `https://auth.example.com/auth/oauth/${settings.id}/callback`,
      clock: { now: () => Date.now() },
    });
    const url = await provider.authorizationUrl({
      state: "the-state",
      codeVerifier: "v".repeat(43),
      nonce: "the-nonce",
    });
    const expected = EXPECTED[settings.id] as (typeof EXPECTED)[string];
    assert.equal(`${url.origin}${url.pathname}`, expected.url, settings.id);
    assert.equal(url.searchParams.get("state"), "the-state", settings.id);
    assert.equal(url.searchParams.get("client_id"), settings.client_id, settings.id);
    assert.equal(
      url.searchParams.get("redirect_uri"),
      `https://auth.example.com/auth/oauth/${settings.id}/callback`,
    );
    assert.equal(
      url.searchParams.get("code_challenge_method") === "S256",
      expected.pkce,
      `${settings.id} PKCE`,
    );
    assert.equal(
      url.searchParams.get("nonce") === "the-nonce",
      expected.nonce,
      `${settings.id} nonce`,
    );
    assert.equal(provider.formPost, settings.id === "ap");
  }
  const apple = config.oauth_providers.find((p) => p.id === "ap");
  assert.ok(apple);
  const appleUrl = await buildProvider(apple, {
    redirectUri: "https://x/cb",
    clock: { now: () => 0 },
  }).authorizationUrl({
    state: "s",
    codeVerifier: "v".repeat(43),
    nonce: "n",
  });
  assert.equal(appleUrl.searchParams.get("response_mode"), "form_post");
});

test("provider mistakes are reported by provider and setting", () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems.join("\n");
    }
    assert.fail("the configuration was accepted");
  };
  assert.match(
    problems({
      OAUTH_PROVIDERS: "[{ id: gh, type: github, client_id: a, client_secret_env: NOT_SET }]",
    }),
    /OAUTH_PROVIDERS \(gh\): NOT_SET is not set/,
  );
  assert.match(
    problems({ OAUTH_PROVIDERS: "[{ id: gh, type: github, client_id: a }]" }),
    /client_secret_env is required for github/,
  );
  assert.match(
    problems({
      OAUTH_PROVIDERS:
        "[{ id: x, type: discord, client_id: a }, { id: x, type: discord, client_id: b }]",
    }),
    /\(x\): the id is used twice/,
  );
  assert.match(
    problems({ OAUTH_PROVIDERS: "[{ id: x, type: myspace, client_id: a }]" }),
    /OAUTH_PROVIDERS/,
  );
  assert.match(
    problems({ OAUTH_PROVIDERS: "[{ id: Bad_Id, type: discord, client_id: a }]" }),
    /lower-case letters/,
  );
  assert.match(
    problems({ RULES: "[{ path: /api/**, upstream_token: { provider: nowhere } }]" }),
    /upstream_token names the provider "nowhere"/,
  );
  assert.match(
    problems({ RULES: "[{ path: /api/**, access: public, upstream_token: { provider: x } }]" }),
    /upstream_token only makes sense with access: authenticated/,
  );
  assert.match(problems({ TOKEN_ENCRYPTION_KEYS: "short" }), /TOKEN_ENCRYPTION_KEYS/);
});

test("the token vault seals with the first key, opens with any, and refuses what no key opens", async () => {
  const [oldKey, newKey, strangerKey] = [randomBytes(32), randomBytes(32), randomBytes(32)];
  const before = createTokenVault([oldKey]);
  const sealed = await before.seal("provider-access-token");
  assert.ok(!sealed.includes("provider-access-token"));
  const rotated = createTokenVault([newKey, oldKey]);
  assert.equal(await rotated.open(sealed), "provider-access-token");
  const resealed = await rotated.seal("provider-access-token");
  assert.equal(await createTokenVault([newKey]).open(resealed), "provider-access-token");
  assert.equal(await createTokenVault([strangerKey]).open(sealed), null);
  assert.equal(await rotated.open(`${sealed.slice(0, -4)}AAAA`), null, "tampering is detected");
});
