// OpenID Connect, client side: who the user is, from a verified ID token. The
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
import { providerAmr } from "../sessions/amr.ts";
import { ProviderError, type ProviderProfile, type ProviderTokens } from "./provider-calls.ts";

const FETCH_TIMEOUT_MS = 5_000;
const RETRY_DISCOVERY_MS = 30_000;

/** Never none, never HS*: the same allow-list as for trusted issuers' bearer tokens. */
const ID_TOKEN_ALGORITHMS = [...ASYMMETRIC_ALGORITHMS];

export type OidcIssuer = {
  discover(): Promise<DiscoveryDocument>;
  /** The verified claims; throws ProviderError when anything does not hold. */
  verifyIdToken(idToken: string, nonce: string): Promise<JWTPayload>;
  userinfo(accessToken: string): Promise<Record<string, unknown> | null>;
  /** The issuer's published keys (fetched when first needed, refreshed on an unknown kid). */
  keys(): Promise<JWTVerifyGetKey>;
  /** Whether `iss` is this issuer (exactly, or by the family's own rule). */
  isIssuer(iss: unknown, payload: JWTPayload): boolean;
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

    async keys() {
      const meta = await issuer.discover();
      keys ??= createRemoteJWKSet(new URL(meta.jwks_uri), {
        timeoutDuration: FETCH_TIMEOUT_MS,
        cooldownDuration: 30_000,
      });
      return keys;
    },

    isIssuer: (iss, payload) =>
      typeof iss === "string" &&
      (options.issuerMatches ? options.issuerMatches(iss, payload) : iss === options.issuer),

    async verifyIdToken(idToken, nonce) {
      const keySet = await issuer.keys();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(idToken, keySet, {
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

const text = (value: unknown) => (typeof value === "string" && value.length > 0 ? value : null);

/** The profile in an OIDC claim set (ID token or userinfo). */
function profileFromClaims(claims: JWTPayload | Record<string, unknown>): ProviderProfile {
  return {
    subject: String(claims.sub),
    email: text(claims.email)?.trim().toLowerCase() ?? null,
    // Apple sends "true" as a string.
    emailVerified: claims.email_verified === true || claims.email_verified === "true",
    name: text(claims.name) ?? text(claims.preferred_username) ?? text(claims.nickname),
    avatarUrl: text(claims.picture),
  };
}

/** The user's profile from the verified ID token, completed by userinfo when it holds no address. */
export async function profileFromIdToken(
  issuer: OidcIssuer,
  tokens: ProviderTokens,
  nonce: string,
  call: <T>(work: () => Promise<T>) => Promise<T>,
): Promise<ProviderProfile> {
  if (!tokens.idToken)
    throw new ProviderError(
      "the provider sent no ID token (is the openid scope granted?)",
      "invalid",
    );
  const idToken = tokens.idToken;
  const claims = await call(() => issuer.verifyIdToken(idToken, nonce));
  // How the user signed in at the provider comes from the ID token only, never from userinfo.
  const profile = { ...profileFromClaims(claims), amr: providerAmr(claims.amr) };
  if (profile.email) return profile;
  // Some issuers keep the address out of the ID token: ask userinfo, for the same subject only.
  const info = await call(() => issuer.userinfo(tokens.accessToken)).catch(() => null);
  if (!info || String(info.sub) !== profile.subject) return profile;
  const extra = profileFromClaims(info);
  return {
    ...profile,
    email: extra.email,
    emailVerified: extra.emailVerified,
    name: profile.name ?? extra.name,
  };
}
