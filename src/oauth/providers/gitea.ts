// Gitea (and Forgejo): an OpenID Connect issuer at its base URL.
import * as arctic from "arctic";
import { baseUrl, defineProvider, OIDC_SCOPES, withPkce } from "../provider-family.ts";

export const gitea = defineProvider({
  type: "gitea",
  displayName: "Gitea",
  settings: { base_url: baseUrl },
  scopes: OIDC_SCOPES,
  needsSecret: false,
  client: (settings, { redirectUri }) =>
    withPkce(
      new arctic.Gitea(settings.base_url, settings.client_id, settings.clientSecret, redirectUri),
    ),
  profile: { idToken: { issuer: (settings) => `${settings.base_url}/` } },
});
