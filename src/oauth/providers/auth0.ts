// Auth0: an OpenID Connect issuer per tenant domain (its issuer ends with a slash).
import * as arctic from "arctic";
import { defineProvider, hostName, OIDC_SCOPES, withPkce } from "../provider-family.ts";

export const auth0 = defineProvider({
  type: "auth0",
  displayName: "Auth0",
  settings: { domain: hostName },
  scopes: OIDC_SCOPES,
  needsSecret: false,
  client: (settings, { redirectUri }) =>
    withPkce(
      new arctic.Auth0(settings.domain, settings.client_id, settings.clientSecret, redirectUri),
    ),
  profile: { idToken: { issuer: (settings) => `https://${settings.domain}/` } },
});
