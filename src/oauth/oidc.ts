// OpenID Connect, client side: the discovery document and the ID token. The
// ID token is verified with jose against the issuer's published keys: the
// signature with an asymmetric algorithm from the allow-list, `iss`, `aud`
// (this client), `azp` when there are several audiences, `exp` and `iat`
// within a small tolerance, and the `nonce` this browser's flow sent.
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { Clock } from "../kernel/clock.ts";
import {
  ASYMMETRIC_ALGORITHMS,
  type DiscoveryDocument,
  fetchDiscovery,
} from "../kernel/oidc-discovery.ts";

const FETCH_TIMEOUT_MS = 5_000;
const RETRY_DISCOVERY_MS = 30_000;

/** Never none, never HS*: the same allow-list as for trusted issuers' bearer tokens. */
const ID_TOKEN_ALGORITHMS = [...ASYMMETRIC_ALGORITHMS];

/**
 * Something the provider sent, or failed to send, that ends the sign-in.
 * refused: the provider said no (invalid_grant, ...); invalid: what it sent
 * does not verify; unreachable: no usable answer came.
 */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly kind: "refused" | "invalid" | "unreachable" = "unreachable",
  ) {
    super(message);
  }
}

export type OidcIssuer = {
  discover(): Promise<DiscoveryDocument>;
  /** The verified claims; throws ProviderError when anything does not hold. */
  verifyIdToken(idToken: string, nonce: string): Promise<JWTPayload>;
  userinfo(accessToken: string): Promise<Record<string, unknown> | null>;
};

export function oidcIssuer(options: {
  issuer: string;
  clientId: string;
  clock: Clock;
  /** Replaces the exact `iss` comparison (Entra's multi-tenant issuers carry the tenant). */
  issuerMatches?: (iss: string, payload: JWTPayload) => boolean;
}): OidcIssuer {
  let document: Promise<DiscoveryDocument> | undefined;
  let failedAt = 0;
  let keys: JWTVerifyGetKey | undefined;

  const fetchDocument = (): Promise<DiscoveryDocument> =>
    fetchDiscovery(options.issuer, {
      timeoutMs: FETCH_TIMEOUT_MS,
      required: ["authorization_endpoint", "token_endpoint", "jwks_uri"],
      anyIssuer: options.issuerMatches !== undefined,
    });

  const issuer: OidcIssuer = {
    discover() {
      if (!document || (failedAt && Date.now() - failedAt > RETRY_DISCOVERY_MS)) {
        failedAt = 0;
        document = fetchDocument().catch((error: unknown) => {
          failedAt = Date.now();
          throw new ProviderError(
            `the provider's discovery document cannot be read: ${(error as Error).message}`,
          );
        });
      }
      return document;
    },

    async verifyIdToken(idToken, nonce) {
      const meta = await issuer.discover();
      keys ??= createRemoteJWKSet(new URL(meta.jwks_uri), {
        timeoutDuration: FETCH_TIMEOUT_MS,
        cooldownDuration: 30_000,
      });
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(idToken, keys, {
          algorithms: ID_TOKEN_ALGORITHMS,
          audience: options.clientId,
          ...(options.issuerMatches ? {} : { issuer: options.issuer }),
          requiredClaims: ["sub", "exp", "iat"],
          clockTolerance: 60,
          currentDate: new Date(options.clock.now()),
        }));
      } catch (error) {
        throw new ProviderError(
          `the ID token is not valid: ${(error as Error).message}`,
          "invalid",
        );
      }
      if (options.issuerMatches && !options.issuerMatches(String(payload.iss), payload))
        throw new ProviderError("the ID token is not valid: unexpected issuer", "invalid");
      if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== options.clientId)
        throw new ProviderError(
          "the ID token is not valid: it was issued to another party (azp)",
          "invalid",
        );
      if (payload.nonce !== nonce)
        throw new ProviderError(
          "the ID token is not valid: its nonce does not match this sign-in",
          "invalid",
        );
      return payload;
    },

    async userinfo(accessToken) {
      const meta = await issuer.discover();
      if (!meta.userinfo_endpoint) return null;
      const response = await fetch(meta.userinfo_endpoint, {
        headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      if (!response.ok)
        throw new ProviderError(`the userinfo endpoint answered ${response.status}`);
      return (await response.json()) as Record<string, unknown>;
    },
  };
  return issuer;
}
