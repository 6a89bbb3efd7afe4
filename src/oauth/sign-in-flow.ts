// The sign-in flow with a provider: `state`, the PKCE verifier and the nonce
// are kept server-side for ten minutes under a random handle that only this
// browser holds, and used up when the callback arrives, whatever happens
// next: a callback can never be replayed, nor finished for another provider
// or in another browser. It ends in a new session, or a linked identity.
import * as arctic from "arctic";
import { eq, lt } from "drizzle-orm";
import type { Audit } from "../accounts/audit.ts";
import type { ClientMeta, SecondStep, SignedIn } from "../accounts/service.ts";
import type { Database } from "../db/client.ts";
import { oauthFlows, type ProviderSessionRecord } from "../db/schema.ts";
import type { Clock } from "../kernel/clock.ts";
import { generateToken, hashToken, isWellFormedToken } from "../kernel/tokens.ts";
import type { SessionService } from "../sessions/service.ts";
import type { IdentityLinks } from "./identity-links.ts";
import type { Provider } from "./provider.ts";
import { ProviderError, type ProviderProfile, type ProviderTokens } from "./provider-calls.ts";
import { OAuthError, STARTED_ELSEWHERE } from "./sign-in-error.ts";
import { sealTokens, type TokenVault } from "./token-vault.ts";

const FLOW_TTL_MS = 10 * 60 * 1000;

const SIGN_IN_CHANGED =
  "This account changed while you were signing in (its address was just confirmed by its owner). Please sign in again.";

export type CallbackParams = {
  code?: string | undefined;
  state?: string | undefined;
  error?: string | undefined;
  errorDescription?: string | undefined;
};

export function createSignInFlow(deps: {
  db: Database;
  vault: TokenVault;
  sessions: SessionService;
  audit: Audit;
  clock: Clock;
  links: IdentityLinks;
  /** The configured provider of that id; throws OAuthError 404 when there is none. */
  provider(id: string): Provider;
  /** What to record of the provider's session (sid, ID token) beside the session it makes. */
  providerSession(
    source: Provider,
    subject: string,
    tokens: ProviderTokens,
  ): Promise<ProviderSessionRecord | null>;
  /** Records it beside a new session. */
  rememberProviderSession(sessionId: string, record: ProviderSessionRecord | null): Promise<void>;
  /** Accounts with a second factor get a half sign-in instead of a session. */
  secondStep?: SecondStep;
}) {
  const { db, audit, clock, links } = deps;

  return {
    /**
     * Starts a sign-in (or a link, for a signed-in user, whose address must be
     * verified): returns the provider's URL and the browser's handle.
     */
    async start(providerId: string, options: { returnTo: string | null; linkUserId?: string }) {
      const source = deps.provider(providerId);
      if (options.linkUserId) await links.checkLinkable(options.linkUserId);
      const flow = {
        state: arctic.generateState(),
        codeVerifier: arctic.generateCodeVerifier(),
        nonce: generateToken(),
      };
      let url: URL;
      try {
        url = await source.authorizationUrl(flow);
      } catch (error) {
        throw new OAuthError(
          502,
          `${source.displayName} cannot be reached right now: ${(error as Error).message}.`,
        );
      }
      const handle = generateToken();
      await db.delete(oauthFlows).where(lt(oauthFlows.expiresAt, new Date(clock.now())));
      await db.insert(oauthFlows).values({
        id: hashToken(handle),
        provider: source.id,
        ...flow,
        returnTo: options.returnTo,
        linkUserId: options.linkUserId ?? null,
        expiresAt: new Date(clock.now() + FLOW_TTL_MS),
      });
      return { url, handle, formPost: source.formPost };
    },

    /**
     * The provider sent the browser back. The flow is used up first, whatever
     * happens next, so a callback can never be replayed.
     */
    async finish(
      providerId: string,
      handle: string | undefined,
      params: CallbackParams,
      current: { userId: string | null; sessionId: string | null },
      meta: ClientMeta,
    ): Promise<{
      signedIn?: SignedIn;
      /** The half sign-in's token: a second factor is owed first. */
      halfSignedIn?: string;
      linked?: true;
      returnTo: string | null;
    }> {
      const source = deps.provider(providerId);
      if (!isWellFormedToken(handle)) throw new OAuthError(400, STARTED_ELSEWHERE);
      const used = await db
        .delete(oauthFlows)
        .where(eq(oauthFlows.id, hashToken(handle)))
        .returning();
      const flow = used[0];
      if (!flow || flow.expiresAt.getTime() < clock.now() || flow.provider !== source.id)
        throw new OAuthError(400, STARTED_ELSEWHERE);
      if (!params.state || params.state !== flow.state)
        throw new OAuthError(400, STARTED_ELSEWHERE);
      if (params.error) {
        const declined = params.error === "access_denied";
        throw new OAuthError(
          400,
          declined
            ? `You did not allow ${source.displayName} to sign you in here.`
            : `${source.displayName} could not sign you in (${params.error}${params.errorDescription ? `: ${params.errorDescription}` : ""}).`,
        );
      }
      if (!params.code)
        throw new OAuthError(400, `${source.displayName} sent no authorization code.`);
      let profile: ProviderProfile;
      let tokens: ProviderTokens;
      try {
        tokens = await source.exchange(params.code, flow.codeVerifier);
        profile = await source.profile(tokens, flow.nonce);
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        audit("oauth.failed", {
          ...meta,
          detail: { provider: source.id, reason: error.message },
        });
        throw new OAuthError(
          error.kind === "unreachable" ? 502 : 400,
          `${source.displayName} could not sign you in: ${error.message}.`,
        );
      }
      const sealed = await sealTokens(deps.vault, tokens, null);
      if (flow.linkUserId) {
        if (current.userId !== flow.linkUserId || !current.sessionId)
          throw new OAuthError(400, STARTED_ELSEWHERE);
        await links.link(
          { userId: flow.linkUserId, sessionId: current.sessionId },
          source,
          profile,
          sealed,
          meta,
        );
        return { linked: true, returnTo: flow.returnTo };
      }
      const { user, identityId } = await links.forSignIn(source, profile, sealed, meta);
      if (user.disabledAt) throw new OAuthError(403, "This account is disabled.");
      const method = `oauth:${source.id}`;
      const { id, email, emailVerified, name, roles } = user;
      // The provider's amr when its ID token had one (how the user proved it there).
      const amr = profile.amr ?? [];
      // Kept with a half sign-in too: the session its factor makes ends with the provider's.
      const providerSession = await deps.providerSession(source, profile.subject, tokens);
      const halfSignedIn = await deps.secondStep?.({
        user: { id, email, emailVerified, name, roles },
        method,
        amr,
        guard: { identityId },
        providerSession,
      });
      if (halfSignedIn) return { halfSignedIn, returnTo: flow.returnTo };
      // The session goes in only while the identity is still the account's: a
      // first proof of the address that removes it meanwhile wins.
      const created = await deps.sessions.createIf({ identityId }, user.id, method, {
        ...meta,
        amr,
      });
      if (!created) throw new OAuthError(409, SIGN_IN_CHANGED);
      const { token, session } = created;
      await deps.rememberProviderSession(session.id, providerSession);
      audit("user.login", { userId: user.id, ...meta, detail: { method } });
      return {
        signedIn: {
          user: { id, email, emailVerified, name, roles },
          token,
          sessionId: session.id,
        },
        returnTo: flow.returnTo,
      };
    },
  };
}
