// The `logout` setting of a sign-in provider: `local` by default, `provider`
// only where there is an OpenID Connect session to end, anything else
// reported at startup with the provider's name.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config.ts";

const env = (entry: string) => ({
  OAUTH_PROVIDERS: `[${entry}]`,
  SECRET: "s",
  PUBLIC_URL: "https://auth.example.com",
});

test("logout is local unless a provider says provider", () => {
  const config = loadConfig(
    env(
      `{ id: kc, type: keycloak, realm_url: "https://kc.example.com/realms/a", client_id: a, client_secret_env: SECRET }`,
    ),
  );
  assert.equal(config.oauth_providers[0]?.logout, "local");
  const rp = loadConfig(
    env(
      `{ id: kc, type: keycloak, realm_url: "https://kc.example.com/realms/a", client_id: a, client_secret_env: SECRET, logout: provider }`,
    ),
  );
  assert.equal(rp.oauth_providers[0]?.logout, "provider");
});

test("logout: provider on a provider without OpenID Connect sessions, or an unknown value, is refused by name", () => {
  assert.throws(
    () =>
      loadConfig(
        env(`{ id: gh, type: github, client_id: a, client_secret_env: SECRET, logout: provider }`),
      ),
    (error: unknown) =>
      error instanceof ConfigError &&
      /gh.*logout: provider needs an OpenID Connect provider/.test(error.message),
  );
  assert.throws(
    () =>
      loadConfig(
        env(
          `{ id: o, type: oidc, issuer: "https://id.example.com", client_id: a, client_secret_env: SECRET, logout: everywhere }`,
        ),
      ),
    (error: unknown) => error instanceof ConfigError && /logout/.test(error.message),
  );
});
