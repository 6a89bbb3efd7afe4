// Sign-in with OAuth and OpenID Connect providers, as one service: the
// configured providers, the sign-in flow (sign-in-flow.ts), the identities
// and the accounts they belong to (identity-links.ts), and the provider
// tokens kept server-side for rules that pass them upstream
// (upstream-tokens.ts).

import type { Audit } from "../accounts/audit.ts";
import type { ProviderRegistrationGate } from "../accounts/registration-policy.ts";
import type { SecondStep } from "../accounts/service.ts";
import type { Database } from "../db/client.ts";
import type { Clock } from "../kernel/clock.ts";
import type { SessionService } from "../sessions/service.ts";
import { createIdentityLinks } from "./identity-links.ts";
import type { LogoutReplay } from "./logout-replay.ts";
import type { Provider } from "./provider.ts";
import { createProviderLogout } from "./provider-logout.ts";
import { OAuthError } from "./sign-in-error.ts";
import { createSignInFlow } from "./sign-in-flow.ts";
import type { TokenVault } from "./token-vault.ts";
import { createUpstreamTokens, type RefreshLock } from "./upstream-tokens.ts";

export type { IdentitySummary } from "./identity-links.ts";
export { LogoutTokenError } from "./provider-logout.ts";
export { OAuthError } from "./sign-in-error.ts";
export { type RefreshLock, UpstreamTokenError } from "./upstream-tokens.ts";

export function createOAuthService(deps: {
  db: Database;
  providers: Provider[];
  vault: TokenVault;
  sessions: SessionService;
  audit: Audit;
  clock: Clock;
  registrationEnabled: boolean;
  registrationGate?: ProviderRegistrationGate;
  /** Without it (no Redis), replicas may refresh the same token at once; the loser takes the winner's. */
  refreshLock?: RefreshLock;
  /** How long a refresh may take: the lock is held at most this long. */
  refreshTimeoutMs?: number;
  /** Called with the `userId:provider` keys of tokens dropped here, so other replicas drop them too. */
  onTokensForgotten?: (keys: string[]) => void;
  /** Logout tokens used once (back-channel logout). */
  logoutReplay: LogoutReplay;
  /** The post-logout landing of a provider (RP-initiated logout). */
  logoutLandingUrl(providerId: string): string;
  /** Accounts with a second factor get a half sign-in instead of a session. */
  secondStep?: SecondStep;
}) {
  const { db, vault, sessions, audit, clock } = deps;
  const providers = new Map(deps.providers.map((provider) => [provider.id, provider]));
  const provider = (id: string): Provider => {
    const found = providers.get(id);
    if (!found) throw new OAuthError(404, "There is no such sign-in provider here.");
    return found;
  };
  const tokens = createUpstreamTokens({
    db,
    vault,
    audit,
    clock,
    provider,
    refreshLock: deps.refreshLock,
    refreshTimeoutMs: deps.refreshTimeoutMs,
    onTokensForgotten: deps.onTokensForgotten,
  });
  const links = createIdentityLinks({
    db,
    audit,
    clock,
    registrationEnabled: deps.registrationEnabled,
    registrationGate: deps.registrationGate,
    providerName: (id) => providers.get(id)?.displayName ?? id,
    tokens,
  });
  const logout = createProviderLogout({
    db,
    vault,
    sessions,
    audit,
    clock,
    replay: deps.logoutReplay,
    provider: (id) => providers.get(id) ?? null,
    landingUrl: deps.logoutLandingUrl,
  });
  const flow = createSignInFlow({
    db,
    vault,
    sessions,
    audit,
    clock,
    links,
    provider,
    providerSession: logout.prepare,
    rememberProviderSession: logout.remember,
    ...(deps.secondStep ? { secondStep: deps.secondStep } : {}),
  });

  return {
    /** The providers offered, in configuration order. */
    list: () => [...providers.values()].map(({ id, displayName }) => ({ id, displayName })),
    start: flow.start,
    finish: flow.finish,
    identities: links.list,
    unlink: links.unlink,
    /**
     * Provider tokens of identities a caller removed in SQL (a first proof of
     * the address): this replica forgets them, and tells the others.
     */
    dropTokens: tokens.dropTokens,
    /** Forgets provider tokens another replica dropped. */
    forgetTokens: tokens.forgetTokens,
    upstreamToken: tokens.upstreamToken,
    /** RP-initiated logout: the provider's end-session URL for this session, or null. */
    endSessionUrl: logout.endSessionUrl,
    /** Back-channel logout: revokes the sessions a verified logout token names. */
    backchannelLogout: logout.backchannel,
  };
}

export type OAuthService = ReturnType<typeof createOAuthService>;
