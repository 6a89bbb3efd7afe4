// GitLab (gitlab.com or self-managed): an OpenID Connect issuer at its base URL.
import * as arctic from "arctic";
import { baseUrl, defineProvider, OIDC_SCOPES, withoutPkce } from "../provider-family.ts";

export const gitlab = defineProvider({
  type: "gitlab",
  displayName: "GitLab",
  settings: { base_url: baseUrl.default("https://gitlab.com") },
  scopes: OIDC_SCOPES,
  needsSecret: false,
  client: (settings, { redirectUri }) =>
    withoutPkce(
      new arctic.GitLab(settings.base_url, settings.client_id, settings.clientSecret, redirectUri),
    ),
  profile: { idToken: { issuer: (settings) => settings.base_url } },
});
