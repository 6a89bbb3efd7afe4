// authentik: an OpenID Connect issuer per application.
import * as arctic from "arctic";
import { z } from "zod";
import { baseUrl, defineProvider, OIDC_SCOPES, withPkce } from "../provider-family.ts";

export const authentik = defineProvider({
  type: "authentik",
  displayName: "authentik",
  settings: { base_url: baseUrl, application_slug: z.string().regex(/^[a-z0-9-]+$/) },
  scopes: OIDC_SCOPES,
  needsSecret: false,
  client: (settings, { redirectUri }) =>
    withPkce(
      new arctic.Authentik(
        settings.base_url,
        settings.client_id,
        settings.clientSecret,
        redirectUri,
      ),
    ),
  profile: {
    idToken: {
      issuer: (settings) => `${settings.base_url}/application/o/${settings.application_slug}/`,
    },
  },
});
