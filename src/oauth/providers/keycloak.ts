// Keycloak: an OpenID Connect issuer per realm.
import * as arctic from "arctic";
import { baseUrl, defineProvider, OIDC_SCOPES, withPkce } from "../provider-family.ts";

export const keycloak = defineProvider({
  type: "keycloak",
  displayName: "Keycloak",
  settings: { realm_url: baseUrl },
  scopes: OIDC_SCOPES,
  needsSecret: false,
  client: (settings, { redirectUri }) =>
    withPkce(
      new arctic.KeyCloak(
        settings.realm_url,
        settings.client_id,
        settings.clientSecret,
        redirectUri,
      ),
    ),
  profile: { idToken: { issuer: (settings) => settings.realm_url } },
});
