// Trusted issuers of bearer JWTs, from the YAML file (`trusted_issuers:`) or
// TRUSTED_ISSUERS as YAML text. Only asymmetric algorithms can be allowed:
// gatehouse verifies against the issuer's published keys, so neither `none`
// nor an HMAC algorithm (which would use a public key as a shared secret) can
// be configured.
import { z } from "zod";
import { ASYMMETRIC_ALGORITHMS } from "../kernel/oidc-discovery.ts";
import { duration, list } from "../settings-types.ts";

const httpUrl = z.url({ protocol: /^https?$/, message: "must be an http or https URL" });
const claimName = z.string().regex(/^[A-Za-z0-9_:./-]{1,100}$/, "must be a claim name");

export const trustedIssuerSchema = z
  .object({
    /** Must equal the tokens' `iss` exactly. */
    issuer: httpUrl,
    /** The issuer's key set; found through OpenID discovery when absent. */
    jwks_url: httpUrl.optional(),
    audiences: list().pipe(z.array(z.string().min(1)).min(1, "at least one audience")),
    algorithms: list(["RS256", "ES256", "EdDSA"]).pipe(
      z.array(
        z.enum(ASYMMETRIC_ALGORITHMS, {
          message: `must be asymmetric: one of ${ASYMMETRIC_ALGORITHMS.join(", ")} (never none or HS*)`,
        }),
      ),
    ),
    /** The required `typ` header, for example at+jwt. */
    typ: z.string().min(1).optional(),
    clock_tolerance: duration("10s"),
    /** An unknown `kid` refetches the key set at most once per this long. */
    jwks_cooldown: duration("30s"),
    /** Which claims fill which identity fields. */
    claims: z
      .object({
        subject: claimName.default("sub"),
        email: claimName.default("email"),
        email_verified: claimName.default("email_verified"),
        name: claimName.default("name"),
        roles: claimName.optional(),
      })
      .strict()
      .default({
        subject: "sub",
        email: "email",
        email_verified: "email_verified",
        name: "name",
      }),
    /** Extra headers sent upstream: header name (after the prefix, e.g. "tenant") → claim. */
    headers: z
      .record(z.string().regex(/^[a-z0-9-]{1,40}$/, "lower-case letters, digits and -"), claimName)
      .default({}),
  })
  .strict();

export type TrustedIssuer = z.output<typeof trustedIssuerSchema>;
