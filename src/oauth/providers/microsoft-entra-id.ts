// Microsoft Entra ID: an OpenID Connect issuer per tenant. The `common`,
// `organizations` and `consumers` tenants accept each user's own tenant as
// issuer. Entra's `email` claim is not verified by Microsoft: it never links
// accounts.
import * as arctic from "arctic";
import { z } from "zod";
import { defineProvider, OIDC_SCOPES, withPkce } from "../provider-family.ts";

const MULTI_TENANT = new Set(["common", "organizations", "consumers"]);

export const microsoftEntraId = defineProvider({
  type: "microsoft-entra-id",
  displayName: "Microsoft",
  settings: { tenant: z.string().min(1).default("common") },
  scopes: OIDC_SCOPES,
  needsSecret: false,
  client: (settings, { redirectUri }) =>
    withPkce(
      new arctic.MicrosoftEntraId(
        settings.tenant,
        settings.client_id,
        settings.clientSecret,
        redirectUri,
      ),
    ),
  profile: {
    idToken: {
      issuer: (settings) => `https://login.microsoftonline.com/${settings.tenant}/v2.0`,
      // Multi-tenant: each token's issuer names the user's tenant.
      issuerMatches: (settings) =>
        MULTI_TENANT.has(settings.tenant)
          ? (iss, payload) =>
              typeof payload.tid === "string" &&
              iss === `https://login.microsoftonline.com/${payload.tid}/v2.0`
          : undefined,
      emailNeverVerified: true,
    },
  },
});
