// What a provider family is, as a small descriptor: its name for people, the
// settings it takes beyond the common ones, its default scopes, how its OAuth
// client is built (endpoints), and how the user's profile is read (a
// verified ID token from its issuer, or its own API). Each family is one file
// in providers/, listed once in provider-table.ts; provider.ts turns a
// descriptor and a provider's settings into the calls the sign-in flow makes.
import type * as arctic from "arctic";
import type { JWTPayload } from "jose";
import { z } from "zod";
import type { OidcIssuer } from "./id-tokens.ts";
import type { ProviderProfile } from "./provider-calls.ts";

/** An http(s) base URL, without its trailing slash. */
export const baseUrl = z
  .string()
  .url()
  .refine((value) => /^https?:\/\//.test(value), "must be an http(s) URL")
  .transform((value) => value.replace(/\/+$/, ""));

/** Compared exactly with `iss`: kept as written (Auth0's and Gitea's end with a slash). */
export const issuerUrl = z
  .string()
  .url()
  .refine((value) => /^https?:\/\//.test(value), "must be an http(s) URL");

export const hostName = z.string().regex(/^[a-z0-9.-]+$/i, "a host name");

export const envName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name");

/** The settings every provider takes. */
const COMMON = {
  /** In URLs (/auth/oauth/<id>) and in x-auth-method (oauth:<id>). */
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "lower-case letters, digits and - only"),
  client_id: z.string().min(1),
  client_secret_env: envName.optional(),
  scopes: z.array(z.string().regex(/^[\x21-\x7e]+$/)).optional(),
  display_name: z.string().min(1).max(60).optional(),
  /** The issuer whose ID tokens are accepted, when the default derived from the other settings is not right. */
  issuer: issuerUrl.optional(),
  /**
   * `provider`: signing out of a session from this provider also ends the
   * provider's session (RP-initiated logout, when it publishes an
   * end_session_endpoint); `local` (the default): gatehouse's session only.
   */
  logout: z.enum(["local", "provider"]).default("local"),
};

function settingsSchema<const T extends string, X extends z.ZodRawShape>(type: T, extra: X) {
  return z
    .object(COMMON)
    .extend({ type: z.literal(type) })
    .extend(extra)
    .strict();
}

export type SettingsSchema<T extends string, X extends z.ZodRawShape> = ReturnType<
  typeof settingsSchema<T, X>
>;

/** Read from the environment variables the settings name. */
export type ProviderSecrets = { clientSecret: string | null; privateKey: string | null };

/** A provider's settings as configured, with its secrets. */
export type SettingsOf<T extends string, X extends z.ZodRawShape> = z.output<SettingsSchema<T, X>> &
  ProviderSecrets;

/** What an arctic class offers, seen through one shape (some take a PKCE verifier, some do not). */
export type OAuthClient = {
  authorizationUrl(state: string, codeVerifier: string, scopes: string[]): URL | Promise<URL>;
  exchange(code: string, codeVerifier: string): Promise<arctic.OAuth2Tokens>;
  /** null: the provider issues no refresh tokens to gatehouse. */
  refresh: ((refreshToken: string, scopes: string[]) => Promise<arctic.OAuth2Tokens>) | null;
};

/** How the user is known: from a verified ID token, or from the provider's API. */
export type ProfileSource<S> =
  | {
      idToken: {
        /** Whose ID tokens are accepted, unless the settings name an `issuer`. */
        issuer(settings: S): string;
        /** Replaces the exact `iss` comparison (issuers that carry the user's tenant). */
        issuerMatches?(settings: S): ((iss: string, payload: JWTPayload) => boolean) | undefined;
        /** The provider does not verify the addresses it sends: they never link accounts. */
        emailNeverVerified?: boolean;
      };
    }
  | { api(accessToken: string): Promise<ProviderProfile> };

export type ProviderFamily<T extends string = string, X extends z.ZodRawShape = z.ZodRawShape> = {
  /** The `type` in OAUTH_PROVIDERS. */
  type: T;
  /** Shown on the buttons unless the settings give a display_name. */
  displayName: string;
  /** Settings beyond the common ones (id, client_id, client_secret_env, scopes, display_name, issuer). */
  settings: X;
  schema: SettingsSchema<T, X>;
  scopes: string[];
  /** client_secret_env must be given. */
  needsSecret: boolean;
  /** Answers with a cross-site POST (response_mode=form_post). */
  formPost: boolean;
  client(
    settings: SettingsOf<T, X>,
    context: { redirectUri: string; issuer: OidcIssuer | null },
  ): OAuthClient;
  profile: ProfileSource<SettingsOf<T, X>>;
};

export function defineProvider<const T extends string, X extends z.ZodRawShape>(
  family: Omit<ProviderFamily<T, X>, "schema" | "formPost"> & { formPost?: boolean },
): ProviderFamily<T, X> {
  return { formPost: false, ...family, schema: settingsSchema(family.type, family.settings) };
}

/** The scopes of an OpenID Connect sign-in. */
export const OIDC_SCOPES = ["openid", "email", "profile"];

/** An arctic class whose calls take the PKCE verifier. */
export function withPkce(client: {
  createAuthorizationURL(state: string, verifier: string, scopes: string[]): URL;
  validateAuthorizationCode(code: string, verifier: string): Promise<arctic.OAuth2Tokens>;
  refreshAccessToken?(token: string, scopes: string[]): Promise<arctic.OAuth2Tokens>;
}): OAuthClient {
  const refresh = client.refreshAccessToken?.bind(client);
  return {
    authorizationUrl: (state, verifier, scopes) =>
      client.createAuthorizationURL(state, verifier, scopes),
    exchange: (code, verifier) => client.validateAuthorizationCode(code, verifier),
    refresh: refresh ? (token, scopes) => refresh(token, scopes) : null,
  };
}

/** An arctic class without PKCE (the provider does not support it). */
export function withoutPkce(client: {
  createAuthorizationURL(state: string, scopes: string[]): URL;
  validateAuthorizationCode(code: string): Promise<arctic.OAuth2Tokens>;
  refreshAccessToken?(token: string): Promise<arctic.OAuth2Tokens>;
}): OAuthClient {
  const refresh = client.refreshAccessToken?.bind(client);
  return {
    authorizationUrl: (state, _verifier, scopes) => client.createAuthorizationURL(state, scopes),
    exchange: (code) => client.validateAuthorizationCode(code),
    refresh: refresh ? (token) => refresh(token) : null,
  };
}

/** A non-empty string, or null. */
export const text = (value: unknown) =>
  typeof value === "string" && value.length > 0 ? value : null;
