// Any OpenID Connect issuer by its URL alone (Dex, Zitadel, Kanidm, Authelia,
// ...): endpoints from its discovery document, PKCE, the ID token verified
// against its published keys.
import * as arctic from "arctic";
import { defineProvider, issuerUrl, OIDC_SCOPES } from "../provider-family.ts";

export const oidc = defineProvider({
  type: "oidc",
  displayName: "OpenID Connect",
  settings: { issuer: issuerUrl },
  scopes: OIDC_SCOPES,
  needsSecret: true,
  client(settings, { redirectUri, issuer }) {
    const client = new arctic.OAuth2Client(settings.client_id, settings.clientSecret, redirectUri);
    const discover = () => {
      if (!issuer) throw new Error("an oidc provider needs its issuer");
      return issuer.discover();
    };
    return {
      async authorizationUrl(state, verifier, scopes) {
        const meta = await discover();
        return client.createAuthorizationURLWithPKCE(
          meta.authorization_endpoint,
          state,
          arctic.CodeChallengeMethod.S256,
          verifier,
          scopes,
        );
      },
      async exchange(code, verifier) {
        const meta = await discover();
        return client.validateAuthorizationCode(meta.token_endpoint, code, verifier);
      },
      async refresh(token) {
        const meta = await discover();
        return client.refreshAccessToken(meta.token_endpoint, token, []);
      },
    };
  },
  profile: { idToken: { issuer: (settings) => settings.issuer } },
});
