// A configured provider: its family's descriptor and its settings turned into
// the four calls the sign-in flow makes (authorization URL, code exchange,
// profile, refresh), each bounded by OAUTH_TIMEOUT. Families whose profile is
// an ID token get a nonce on every sign-in and have it verified exactly as the
// generic `oidc` family does.
import type { Clock } from "../kernel/clock.ts";
import { type OidcIssuer, oidcIssuer, profileFromIdToken } from "./id-tokens.ts";
import {
  callProvider,
  type ProviderProfile,
  type ProviderTokens,
  toTokens,
} from "./provider-calls.ts";
import type { OAuthProviderConfig } from "./provider-config.ts";
import { providerFamily } from "./provider-table.ts";

export type FlowSecrets = { state: string; codeVerifier: string; nonce: string };

export type Provider = {
  id: string;
  displayName: string;
  /** Apple answers with a cross-site POST (response_mode=form_post). */
  formPost: boolean;
  authorizationUrl(flow: FlowSecrets): Promise<URL>;
  exchange(code: string, codeVerifier: string): Promise<ProviderTokens>;
  profile(tokens: ProviderTokens, nonce: string): Promise<ProviderProfile>;
  /** null: the provider issues no refresh tokens to gatehouse. */
  refresh: ((refreshToken: string) => Promise<ProviderTokens>) | null;
  clientId: string;
  /** The OpenID Connect issuer whose ID tokens are verified; null for providers known by their API. */
  oidc: OidcIssuer | null;
  /** `provider`: signing out also ends the provider's session (RP-initiated logout). */
  logout: "local" | "provider";
};

export function buildProvider(
  config: OAuthProviderConfig,
  options: { redirectUri: string; clock: Clock; timeoutMs?: number },
): Provider {
  const { clock, redirectUri } = options;
  const family = providerFamily(config.type);
  const call = <T>(work: () => Promise<T>) => callProvider(work, options.timeoutMs ?? 10_000);
  const scopes = config.scopes ?? family.scopes;
  const source = family.profile;
  const fromIdToken = "idToken" in source ? source.idToken : null;
  // The configured issuer is compared exactly; otherwise the family's, or its own rule.
  const issuerMatches = config.issuer ? undefined : fromIdToken?.issuerMatches?.(config);
  const issuer = fromIdToken
    ? oidcIssuer({
        issuer: config.issuer ?? fromIdToken.issuer(config),
        clientId: config.client_id,
        clock,
        ...(issuerMatches ? { issuerMatches } : {}),
      })
    : null;
  const client = family.client(config, { redirectUri, issuer });
  const refresh = client.refresh;

  return {
    id: config.id,
    displayName: config.display_name ?? family.displayName,
    formPost: family.formPost,
    async authorizationUrl(flow) {
      const url = await client.authorizationUrl(flow.state, flow.codeVerifier, scopes);
      if (issuer) url.searchParams.set("nonce", flow.nonce);
      if (family.formPost) url.searchParams.set("response_mode", "form_post");
      return url;
    },
    exchange: (code, verifier) =>
      call(async () => toTokens(await client.exchange(code, verifier), clock)),
    async profile(tokens, nonce) {
      if ("api" in source) return call(() => source.api(tokens.accessToken));
      const profile = await profileFromIdToken(
        issuer as NonNullable<typeof issuer>,
        tokens,
        nonce,
        call,
      );
      return fromIdToken?.emailNeverVerified ? { ...profile, emailVerified: false } : profile;
    },
    refresh: refresh
      ? (refreshToken) => call(async () => toTokens(await refresh(refreshToken, scopes), clock))
      : null,
    clientId: config.client_id,
    oidc: issuer,
    logout: config.logout,
  };
}
