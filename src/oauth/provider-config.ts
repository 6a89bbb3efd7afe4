// OAUTH_PROVIDERS: the sign-in providers offered on the login page, each
// validated by its family's settings (provider-table.ts). Secrets are never
// written in the file: each provider names the environment variable that
// holds its client secret (or Apple's private key).
import { z } from "zod";
import type { ProviderSecrets } from "./provider-family.ts";
import { PROVIDER_FAMILIES, providerFamily } from "./provider-table.ts";

/** The families' settings schemas, as a tuple (a mapped type over a type parameter keeps it one). */
type SchemasOf<F extends readonly unknown[]> = {
  -readonly [K in keyof F]: F[K] extends { schema: infer S } ? S : never;
};

export const oauthProviderSchema = z.discriminatedUnion(
  "type",
  PROVIDER_FAMILIES.map((family) => family.schema) as unknown as SchemasOf<
    typeof PROVIDER_FAMILIES
  >,
);

export type OAuthProviderSettings = z.output<typeof oauthProviderSchema>;
export type OAuthProviderType = OAuthProviderSettings["type"];

/** A provider's settings with its secrets read from the environment. */
export type OAuthProviderConfig = OAuthProviderSettings & ProviderSecrets;

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
    if (!clientSecret && !provider.client_secret_env && providerFamily(provider.type).needsSecret)
      problems.push(
        `OAUTH_PROVIDERS (${provider.id}): client_secret_env is required for ${provider.type}`,
      );
    if (provider.logout === "provider" && !("idToken" in providerFamily(provider.type).profile))
      problems.push(
        `OAUTH_PROVIDERS (${provider.id}): logout: provider needs an OpenID Connect provider (${provider.type} publishes no end_session_endpoint)`,
      );
    const privateKey = "private_key_env" in provider ? read(provider.private_key_env) : null;
    return { ...provider, clientSecret, privateKey };
  });
  return { providers: result, problems };
}
