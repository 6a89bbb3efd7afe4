// Google: an OpenID Connect issuer through arctic's class.
import * as arctic from "arctic";
import { defineProvider, OIDC_SCOPES, withPkce } from "../provider-family.ts";

export const google = defineProvider({
  type: "google",
  displayName: "Google",
  settings: {},
  scopes: OIDC_SCOPES,
  needsSecret: true,
  client: (settings, { redirectUri }) =>
    withPkce(new arctic.Google(settings.client_id, settings.clientSecret ?? "", redirectUri)),
  profile: { idToken: { issuer: () => "https://accounts.google.com" } },
});
