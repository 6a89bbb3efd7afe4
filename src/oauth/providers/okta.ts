// Okta: an OpenID Connect issuer per domain, or per authorization server.
import * as arctic from "arctic";
import { z } from "zod";
import { defineProvider, hostName, OIDC_SCOPES, withPkce } from "../provider-family.ts";

export const okta = defineProvider({
  type: "okta",
  displayName: "Okta",
  settings: { domain: hostName, authorization_server_id: z.string().min(1).optional() },
  scopes: OIDC_SCOPES,
  needsSecret: true,
  client: (settings, { redirectUri }) =>
    withPkce(
      new arctic.Okta(
        settings.domain,
        settings.authorization_server_id ?? null,
        settings.client_id,
        settings.clientSecret ?? "",
        redirectUri,
      ),
    ),
  profile: {
    idToken: {
      issuer: (settings) =>
        settings.authorization_server_id
          ? `https://${settings.domain}/oauth2/${settings.authorization_server_id}`
          : `https://${settings.domain}`,
    },
  },
});
