// Every provider family gatehouse offers, each described in its own file in
// providers/. A new family is one file there and one line here.
import type { ProviderFamily } from "./provider-family.ts";
import { apple } from "./providers/apple.ts";
import { auth0 } from "./providers/auth0.ts";
import { authentik } from "./providers/authentik.ts";
import { discord } from "./providers/discord.ts";
import { gitea } from "./providers/gitea.ts";
import { github } from "./providers/github.ts";
import { gitlab } from "./providers/gitlab.ts";
import { google } from "./providers/google.ts";
import { keycloak } from "./providers/keycloak.ts";
import { microsoftEntraId } from "./providers/microsoft-entra-id.ts";
import { oidc } from "./providers/oidc.ts";
import { okta } from "./providers/okta.ts";

export const PROVIDER_FAMILIES = [
  oidc,
  github,
  google,
  discord,
  microsoftEntraId,
  gitlab,
  keycloak,
  auth0,
  okta,
  authentik,
  gitea,
  apple,
] as const;

export type ProviderType = (typeof PROVIDER_FAMILIES)[number]["type"];

const BY_TYPE = new Map<string, ProviderFamily>(
  PROVIDER_FAMILIES.map((family) => [family.type, family as unknown as ProviderFamily]),
);

export function providerFamily(type: string): ProviderFamily {
  const family = BY_TYPE.get(type);
  if (!family) throw new Error(`no provider family ${type}`);
  return family;
}
