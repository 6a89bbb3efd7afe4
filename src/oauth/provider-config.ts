// OAUTH_PROVIDERS: the sign-in providers offered on the login page. Secrets
// are never written in the file: each provider names the environment
// variable that holds its client secret (or Apple's private key).
import { z } from "zod";

const httpsUrl = z
  .string()
  .url()
  .refine((value) => /^https?:\/\//.test(value), "must be an http(s) URL")
  .transform((value) => value.replace(/\/+$/, ""));

/** Compared exactly with `iss`: kept as written (Auth0's and Gitea's end with a slash). */
const issuerUrl = z
  .string()
  .url()
  .refine((value) => /^https?:\/\//.test(value), "must be an http(s) URL");

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name");

const common = {
  /** In URLs (/auth/oauth/<id>) and in x-auth-method (oauth:<id>). */
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "lower-case letters, digits and - only"),
  client_id: z.string().min(1),
  client_secret_env: envName.optional(),
  scopes: z.array(z.string().regex(/^[\x21-\x7e]+$/)).optional(),
  display_name: z.string().min(1).max(60).optional(),
  /** The issuer whose ID tokens are accepted, when the default derived from the other settings is not right. */
  issuer: issuerUrl.optional(),
};

export const oauthProviderSchema = z.discriminatedUnion("type", [
  z.object({ ...common, type: z.literal("oidc"), issuer: issuerUrl }).strict(),
  z.object({ ...common, type: z.literal("github") }).strict(),
  z.object({ ...common, type: z.literal("google") }).strict(),
  z.object({ ...common, type: z.literal("discord") }).strict(),
  z
    .object({
      ...common,
      type: z.literal("microsoft-entra-id"),
      tenant: z.string().min(1).default("common"),
    })
    .strict(),
  z
    .object({
      ...common,
      type: z.literal("gitlab"),
      base_url: httpsUrl.default("https://gitlab.com"),
    })
    .strict(),
  z.object({ ...common, type: z.literal("keycloak"), realm_url: httpsUrl }).strict(),
  z
    .object({
      ...common,
      type: z.literal("auth0"),
      domain: z.string().regex(/^[a-z0-9.-]+$/i, "a host name"),
    })
    .strict(),
  z
    .object({
      ...common,
      type: z.literal("okta"),
      domain: z.string().regex(/^[a-z0-9.-]+$/i, "a host name"),
      authorization_server_id: z.string().min(1).optional(),
    })
    .strict(),
  z
    .object({
      ...common,
      type: z.literal("authentik"),
      base_url: httpsUrl,
      application_slug: z.string().regex(/^[a-z0-9-]+$/),
    })
    .strict(),
  z.object({ ...common, type: z.literal("gitea"), base_url: httpsUrl }).strict(),
  z
    .object({
      ...common,
      type: z.literal("apple"),
      team_id: z.string().min(1),
      key_id: z.string().min(1),
      /** The variable holding the PKCS#8 private key (PEM) that signs Apple's client secret. */
      private_key_env: envName,
    })
    .strict(),
]);

export type OAuthProviderSettings = z.output<typeof oauthProviderSchema>;
export type OAuthProviderType = OAuthProviderSettings["type"];

/** A provider's settings with its secrets read from the environment. */
export type OAuthProviderConfig = OAuthProviderSettings & {
  clientSecret: string | null;
  privateKey: string | null;
};

const NEEDS_SECRET: ReadonlySet<OAuthProviderType> = new Set(["oidc", "github", "google", "okta"]);

/** Reads each provider's secrets from the environment; returns the problems, naming provider and variable. */
export function withSecrets(
  providers: OAuthProviderSettings[],
  env: Record<string, string | undefined>,
): { providers: OAuthProviderConfig[]; problems: string[] } {
  const problems: string[] = [];
  const ids = new Set<string>();
  const result = providers.map((provider) => {
    if (ids.has(provider.id))
      problems.push(`OAUTH_PROVIDERS (${provider.id}): the id is used twice`);
    ids.add(provider.id);
    const read = (name: string | undefined) => {
      if (!name) return null;
      const value = env[name];
      if (!value) problems.push(`OAUTH_PROVIDERS (${provider.id}): ${name} is not set`);
      return value || null;
    };
    const clientSecret = read(provider.client_secret_env);
    if (!clientSecret && !provider.client_secret_env && NEEDS_SECRET.has(provider.type))
      problems.push(
        `OAUTH_PROVIDERS (${provider.id}): client_secret_env is required for ${provider.type}`,
      );
    const privateKey = provider.type === "apple" ? read(provider.private_key_env) : null;
    return { ...provider, clientSecret, privateKey };
  });
  return { providers: result, problems };
}
