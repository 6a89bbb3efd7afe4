// One adapter per provider family, all built on arctic, all returning the
// same normalised profile. Three families:
// - generic OpenID Connect (`oidc`): endpoints from the discovery document,
//   arctic's OAuth2Client with PKCE, the ID token verified with jose;
// - arctic's classes for providers that are OpenID Connect issuers (Google,
//   Microsoft Entra ID, GitLab, Keycloak, Auth0, Okta, Authentik, Gitea,
//   Apple): arctic builds the URLs and exchanges the code, and the ID token
//   is verified exactly as for `oidc`, nonce included;
// - plain OAuth 2.0 (GitHub, Discord): the profile from the provider's API.
import * as arctic from "arctic";
import type { JWTPayload } from "jose";
import type { Clock } from "../kernel/clock.ts";
import { type OidcIssuer, oidcIssuer, ProviderError } from "./oidc.ts";
import type { OAuthProviderConfig, OAuthProviderType } from "./provider-config.ts";

/** How long a provider's API calls may take; the flow's whole exchange is bounded by OAUTH_TIMEOUT. */
const FETCH_TIMEOUT_MS = 10_000;

export type ProviderProfile = {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  avatarUrl: string | null;
};

export type ProviderTokens = {
  accessToken: string;
  refreshToken: string | null;
  expiresAt: Date | null;
  idToken: string | null;
};

export type FlowSecrets = { state: string; codeVerifier: string; nonce: string };

export type Provider = {
  id: string;
  type: OAuthProviderType;
  displayName: string;
  /** Apple answers with a cross-site POST (response_mode=form_post). */
  formPost: boolean;
  authorizationUrl(flow: FlowSecrets): Promise<URL>;
  exchange(code: string, codeVerifier: string): Promise<ProviderTokens>;
  profile(tokens: ProviderTokens, nonce: string): Promise<ProviderProfile>;
  /** null: the provider issues no refresh tokens to gatehouse. */
  refresh: ((refreshToken: string) => Promise<ProviderTokens>) | null;
};

const DISPLAY_NAMES: Record<OAuthProviderType, string> = {
  oidc: "OpenID Connect",
  github: "GitHub",
  google: "Google",
  discord: "Discord",
  "microsoft-entra-id": "Microsoft",
  gitlab: "GitLab",
  keycloak: "Keycloak",
  auth0: "Auth0",
  okta: "Okta",
  authentik: "authentik",
  gitea: "Gitea",
  apple: "Apple",
};

const OIDC_SCOPES = ["openid", "email", "profile"];

/** Turns whatever arctic or fetch threw into a ProviderError with a message a person can read. */
export async function fromProvider<T>(work: () => Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ProviderError("the provider did not answer in time")),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work(), timeout]);
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    if (error instanceof arctic.OAuth2RequestError)
      throw new ProviderError(
        `the provider refused: ${error.code}${error.description ? ` (${error.description})` : ""}`,
        "refused",
      );
    if (error instanceof arctic.ArcticFetchError)
      throw new ProviderError("the provider cannot be reached");
    if (
      error instanceof arctic.UnexpectedResponseError ||
      error instanceof arctic.UnexpectedErrorResponseBodyError
    )
      throw new ProviderError("the provider answered with something unexpected");
    throw new ProviderError(`the provider's answer could not be used: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

function toTokens(tokens: arctic.OAuth2Tokens, clock: Clock): ProviderTokens {
  const data = tokens.data as Record<string, unknown>;
  const expiresIn = typeof data.expires_in === "number" ? data.expires_in : null;
  return {
    accessToken: tokens.accessToken(),
    refreshToken: typeof data.refresh_token === "string" ? data.refresh_token : null,
    expiresAt: expiresIn === null ? null : new Date(clock.now() + expiresIn * 1000),
    idToken: typeof data.id_token === "string" ? data.id_token : null,
  };
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

async function getJson(url: string, accessToken: string): Promise<unknown> {
  const response = await fetch(url, {
    headers: {
      authorization: `Bearer ${accessToken}`,
      accept: "application/json",
      "user-agent": "gatehouse",
    },
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  if (!response.ok) throw new ProviderError(`${new URL(url).host} answered ${response.status}`);
  return response.json();
}

type GitHubEmail = { email: string; primary: boolean; verified: boolean };

async function githubProfile(accessToken: string): Promise<ProviderProfile> {
  const user = (await getJson("https://api.github.com/user", accessToken)) as Record<
    string,
    unknown
  >;
  const emails = (await getJson(
    "https://api.github.com/user/emails",
    accessToken,
  )) as GitHubEmail[];
  const list = Array.isArray(emails) ? emails : [];
  // The primary address when verified; else any verified one; an unverified one never counts as verified.
  const chosen =
    list.find((e) => e.primary && e.verified) ??
    list.find((e) => e.verified) ??
    list.find((e) => e.primary);
  if (typeof user.id !== "number" && typeof user.id !== "string")
    throw new ProviderError("GitHub sent no user id", "invalid");
  return {
    subject: String(user.id),
    email: chosen?.email.toLowerCase() ?? null,
    emailVerified: chosen?.verified === true,
    name: text(user.name) ?? text(user.login),
    avatarUrl: text(user.avatar_url),
  };
}

async function discordProfile(accessToken: string): Promise<ProviderProfile> {
  const user = (await getJson("https://discord.com/api/users/@me", accessToken)) as Record<
    string,
    unknown
  >;
  const id = text(user.id);
  if (!id) throw new ProviderError("Discord sent no user id", "invalid");
  const avatar = text(user.avatar);
  return {
    subject: id,
    email: text(user.email)?.toLowerCase() ?? null,
    emailVerified: user.verified === true,
    name: text(user.global_name) ?? text(user.username),
    avatarUrl: avatar ? `https://cdn.discordapp.com/avatars/${id}/${avatar}.png` : null,
  };
}

/** Where an OIDC-family provider's ID tokens come from, derived from its settings. */
function issuerFor(config: OAuthProviderConfig): string {
  if (config.issuer) return config.issuer;
  switch (config.type) {
    case "oidc":
      return config.issuer;
    case "google":
      return "https://accounts.google.com";
    case "microsoft-entra-id":
      return `https://login.microsoftonline.com/${config.tenant}/v2.0`;
    case "gitlab":
      return config.base_url;
    case "keycloak":
      return config.realm_url;
    case "auth0":
      return `https://${config.domain}/`;
    case "okta":
      return config.authorization_server_id
        ? `https://${config.domain}/oauth2/${config.authorization_server_id}`
        : `https://${config.domain}`;
    case "authentik":
      return `${config.base_url}/application/o/${config.application_slug}/`;
    case "gitea":
      return `${config.base_url}/`;
    case "apple":
      return "https://appleid.apple.com";
    default:
      throw new Error(`${config.type} is not an OpenID Connect provider`);
  }
}

const MULTI_TENANT = new Set(["common", "organizations", "consumers"]);

function entraIssuer(
  config: Extract<OAuthProviderConfig, { type: "microsoft-entra-id" }>,
  clientId: string,
  clock: Clock,
) {
  if (config.issuer || !MULTI_TENANT.has(config.tenant))
    return oidcIssuer({ issuer: issuerFor(config), clientId, clock });
  // Multi-tenant: each token's issuer names the user's tenant.
  return oidcIssuer({
    issuer: issuerFor(config),
    clientId,
    clock,
    issuerMatches: (iss, payload) =>
      typeof payload.tid === "string" &&
      iss === `https://login.microsoftonline.com/${payload.tid}/v2.0`,
  });
}

/** What an arctic class offers, seen through one shape (some take a PKCE verifier, some do not). */
type ArcticClient = {
  url(state: string, codeVerifier: string, scopes: string[]): URL;
  exchange(code: string, codeVerifier: string): Promise<arctic.OAuth2Tokens>;
  refresh: ((refreshToken: string, scopes: string[]) => Promise<arctic.OAuth2Tokens>) | null;
};

function arcticClient(config: OAuthProviderConfig, redirectUri: string): ArcticClient {
  const id = config.client_id;
  const secret = config.clientSecret;
  const withPkce = (client: {
    createAuthorizationURL(state: string, verifier: string, scopes: string[]): URL;
    validateAuthorizationCode(code: string, verifier: string): Promise<arctic.OAuth2Tokens>;
    refreshAccessToken?(token: string, scopes: string[]): Promise<arctic.OAuth2Tokens>;
  }): ArcticClient => ({
    url: (state, verifier, scopes) => client.createAuthorizationURL(state, verifier, scopes),
    exchange: (code, verifier) => client.validateAuthorizationCode(code, verifier),
    refresh: client.refreshAccessToken
      ? (token, scopes) =>
          (client.refreshAccessToken as NonNullable<typeof client.refreshAccessToken>)(
            token,
            scopes,
          )
      : null,
  });
  const withoutPkce = (client: {
    createAuthorizationURL(state: string, scopes: string[]): URL;
    validateAuthorizationCode(code: string): Promise<arctic.OAuth2Tokens>;
    refreshAccessToken?(token: string): Promise<arctic.OAuth2Tokens>;
  }): ArcticClient => ({
    url: (state, _verifier, scopes) => client.createAuthorizationURL(state, scopes),
    exchange: (code) => client.validateAuthorizationCode(code),
    refresh: client.refreshAccessToken
      ? (token) =>
          (client.refreshAccessToken as NonNullable<typeof client.refreshAccessToken>)(token)
      : null,
  });
  switch (config.type) {
    case "github":
      return withoutPkce(new arctic.GitHub(id, secret ?? "", redirectUri));
    case "google":
      return withPkce(new arctic.Google(id, secret ?? "", redirectUri));
    case "discord":
      return withPkce(new arctic.Discord(id, secret, redirectUri));
    case "microsoft-entra-id":
      return withPkce(new arctic.MicrosoftEntraId(config.tenant, id, secret, redirectUri));
    case "gitlab":
      return withoutPkce(new arctic.GitLab(config.base_url, id, secret, redirectUri));
    case "keycloak":
      return withPkce(new arctic.KeyCloak(config.realm_url, id, secret, redirectUri));
    case "auth0":
      return withPkce(new arctic.Auth0(config.domain, id, secret, redirectUri));
    case "okta":
      return withPkce(
        new arctic.Okta(
          config.domain,
          config.authorization_server_id ?? null,
          id,
          secret ?? "",
          redirectUri,
        ),
      );
    case "authentik":
      return withPkce(new arctic.Authentik(config.base_url, id, secret, redirectUri));
    case "gitea":
      return withPkce(new arctic.Gitea(config.base_url, id, secret, redirectUri));
    case "apple":
      return withoutPkce(
        new arctic.Apple(
          id,
          config.team_id,
          config.key_id,
          pemToPkcs8(config.privateKey ?? ""),
          redirectUri,
        ),
      );
    case "oidc":
      throw new Error("oidc providers are built from their discovery document");
  }
}

function pemToPkcs8(pem: string): Uint8Array {
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(body, "base64"));
}

export function buildProvider(
  config: OAuthProviderConfig,
  options: { redirectUri: string; clock: Clock; timeoutMs?: number },
): Provider {
  const { clock, redirectUri } = options;
  const call = <T>(work: () => Promise<T>) => fromProvider(work, options.timeoutMs ?? 10_000);
  const scopes = config.scopes ?? defaultScopes(config.type);
  const base = {
    id: config.id,
    type: config.type,
    displayName: config.display_name ?? DISPLAY_NAMES[config.type],
    formPost: config.type === "apple",
  };

  if (config.type === "oidc") {
    const issuer = oidcIssuer({ issuer: config.issuer, clientId: config.client_id, clock });
    const client = new arctic.OAuth2Client(config.client_id, config.clientSecret, redirectUri);
    return {
      ...base,
      async authorizationUrl(flow) {
        const meta = await call(() => issuer.discover());
        const url = client.createAuthorizationURLWithPKCE(
          meta.authorization_endpoint,
          flow.state,
          arctic.CodeChallengeMethod.S256,
          flow.codeVerifier,
          scopes,
        );
        url.searchParams.set("nonce", flow.nonce);
        return url;
      },
      exchange: (code, verifier) =>
        call(async () => {
          const meta = await issuer.discover();
          return toTokens(
            await client.validateAuthorizationCode(meta.token_endpoint, code, verifier),
            clock,
          );
        }),
      profile: (tokens, nonce) => oidcProfile(issuer, tokens, nonce, call),
      refresh: (refreshToken) =>
        call(async () => {
          const meta = await issuer.discover();
          return toTokens(
            await client.refreshAccessToken(meta.token_endpoint, refreshToken, []),
            clock,
          );
        }),
    };
  }

  const client = arcticClient(config, redirectUri);
  const refresh = client.refresh
    ? (refreshToken: string) =>
        call(async () =>
          toTokens(
            await (client.refresh as NonNullable<typeof client.refresh>)(refreshToken, scopes),
            clock,
          ),
        )
    : null;
  const exchange = (code: string, verifier: string) =>
    call(async () => toTokens(await client.exchange(code, verifier), clock));

  if (config.type === "github" || config.type === "discord") {
    const read = config.type === "github" ? githubProfile : discordProfile;
    return {
      ...base,
      authorizationUrl: async (flow) => client.url(flow.state, flow.codeVerifier, scopes),
      exchange,
      profile: (tokens) => call(() => read(tokens.accessToken)),
      refresh,
    };
  }

  const issuer =
    config.type === "microsoft-entra-id"
      ? entraIssuer(config, config.client_id, clock)
      : oidcIssuer({ issuer: issuerFor(config), clientId: config.client_id, clock });
  return {
    ...base,
    async authorizationUrl(flow) {
      const url = client.url(flow.state, flow.codeVerifier, scopes);
      url.searchParams.set("nonce", flow.nonce);
      if (config.type === "apple") url.searchParams.set("response_mode", "form_post");
      return url;
    },
    exchange,
    async profile(tokens, nonce) {
      const profile = await oidcProfile(issuer, tokens, nonce, call);
      // Entra's email claim is not verified by Microsoft: it never links accounts.
      return config.type === "microsoft-entra-id" ? { ...profile, emailVerified: false } : profile;
    },
    refresh,
  };
}

async function oidcProfile(
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
  const profile = profileFromClaims(claims);
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

function defaultScopes(type: OAuthProviderType): string[] {
  switch (type) {
    case "github":
      return ["read:user", "user:email"];
    case "discord":
      return ["identify", "email"];
    case "apple":
      return ["name", "email"];
    default:
      return OIDC_SCOPES;
  }
}
