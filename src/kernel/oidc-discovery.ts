// OpenID Connect discovery and the signature algorithms gatehouse accepts,
// shared by the sign-in providers (ID tokens) and the trusted issuers (bearer
// JWTs): one reader of `/.well-known/openid-configuration`, one allow-list.

/** Asymmetric only: never none, never HS* (which would use a public key as a shared secret). */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;

export type DiscoveryDocument = {
  /** Absent only where `anyIssuer` allowed it. */
  issuer?: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
  /** RP-initiated logout: where the browser ends its session at the provider. */
  end_session_endpoint?: string;
};

/**
 * Reads an issuer's discovery document and checks it names that issuer (unless
 * `anyIssuer`: multi-tenant issuers) and has every `required` endpoint.
 */
export async function fetchDiscovery<K extends keyof DiscoveryDocument>(
  issuer: string,
  options: { timeoutMs: number; required: readonly K[]; anyIssuer?: boolean },
): Promise<Partial<DiscoveryDocument> & Pick<DiscoveryDocument, K>> {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs) });
  if (!response.ok) throw new Error(`discovery at ${url} answered ${response.status}`);
  const body = (await response.json()) as Partial<DiscoveryDocument>;
  if (!options.anyIssuer && body.issuer !== issuer)
    throw new Error(`discovery at ${url} names the issuer ${body.issuer}`);
  for (const field of options.required)
    if (typeof body[field] !== "string") throw new Error(`discovery at ${url} has no ${field}`);
  return body as Partial<DiscoveryDocument> & Pick<DiscoveryDocument, K>;
}
