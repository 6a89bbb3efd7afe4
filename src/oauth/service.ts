// Sign-in with OAuth and OpenID Connect providers: the flow (state, PKCE,
// nonce, single use, bound to this browser and this provider), the rules for
// creating and linking accounts, and the provider tokens kept server-side for
// rules that pass them upstream.

import * as arctic from "arctic";
import { and, eq, lt } from "drizzle-orm";
import { LRUCache } from "lru-cache";
import type { Audit } from "../accounts/audit.ts";
import type { ClientMeta, SignedIn } from "../accounts/service.ts";
import type { Database } from "../db/client.ts";
import {
  oauthFlows,
  oauthIdentities,
  passwordCredentials,
  sessions as sessionRows,
  users,
} from "../db/schema.ts";
import { isStoreUnavailable } from "../db/unavailable.ts";
import { ServiceError } from "../errors.ts";
import type { Clock } from "../kernel/clock.ts";
import { generateToken, hashToken, isWellFormedToken } from "../kernel/tokens.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionUser } from "../sessions/store.ts";
import { ProviderError } from "./oidc.ts";
import type { Provider, ProviderProfile, ProviderTokens } from "./providers.ts";
import type { TokenVault } from "./token-vault.ts";

const FLOW_TTL_MS = 10 * 60 * 1000;
/** A token this close to its expiry is refreshed before it is passed on. */
const REFRESH_MARGIN_MS = 30_000;

/** Why a sign-in with a provider did not complete, said to a person; status is the page's. */
export class OAuthError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 502,
    message: string,
  ) {
    super(message);
  }
}

/** Why no provider token can be passed upstream. */
export class UpstreamTokenError extends Error {
  constructor(
    /** not_linked: 403; expired: the user must sign in with the provider again (401); unavailable: 503. */
    readonly reason: "not_linked" | "expired" | "unavailable",
    message: string,
  ) {
    super(message);
  }
}

export type IdentitySummary = {
  id: string;
  provider: string;
  providerName: string;
  email: string | null;
  name: string | null;
  createdAt: string;
  lastLoginAt: string | null;
};

type IdentityRow = typeof oauthIdentities.$inferSelect;

const STARTED_ELSEWHERE =
  "This sign-in was not started in this browser, was already used, or took too long. Please start again.";

const SIGN_IN_CHANGED =
  "This account changed while you were signing in (its address was just confirmed by its owner). Please sign in again.";

const LINK_NEEDS_VERIFIED_EMAIL =
  "Confirm your email address first: sign-in providers can only be linked once the address is confirmed. Use the link we sent you, or ask for a new one on your account page.";

/** A lock shared by the replicas (Redis), so that one of them refreshes a user's token. */
export type RefreshLock = {
  /** True when this caller holds the lock for `ms`; false when another does. Throws when it cannot tell. */
  acquire(key: string, ms: number): Promise<boolean>;
  release(key: string): Promise<void>;
};

const LOCK_WAIT_STEP_MS = 50;

export function createOAuthService(deps: {
  db: Database;
  providers: Provider[];
  vault: TokenVault;
  sessions: SessionService;
  audit: Audit;
  clock: Clock;
  registrationEnabled: boolean;
  /** Without it (no Redis), replicas may refresh the same token at once; the loser takes the winner's. */
  refreshLock?: RefreshLock;
  /** How long a refresh may take: the lock is held at most this long. */
  refreshTimeoutMs?: number;
  /** Called with the `userId:provider` keys of tokens dropped here, so other replicas drop them too. */
  onTokensForgotten?: (keys: string[]) => void;
}) {
  const { db, vault, sessions, audit, clock } = deps;
  const providers = new Map(deps.providers.map((provider) => [provider.id, provider]));
  const now = () => new Date(clock.now());
  const tokenCache = new LRUCache<string, { token: string; expiresAt: number | null }>({
    max: 10_000,
  });
  const refreshing = new Map<string, Promise<string>>();

  function provider(id: string): Provider {
    const found = providers.get(id);
    if (!found) throw new OAuthError(404, "There is no such sign-in provider here.");
    return found;
  }

  async function sealTokens(tokens: ProviderTokens, previousRefresh: string | null) {
    return {
      accessToken: await vault.seal(tokens.accessToken),
      // Providers that do not rotate refresh tokens send none on refresh: keep the old one.
      refreshToken: tokens.refreshToken ? await vault.seal(tokens.refreshToken) : previousRefresh,
      tokenExpiresAt: tokens.expiresAt,
    };
  }

  function toSessionUser(user: typeof users.$inferSelect): SessionUser {
    const { id, email, emailVerified, name, roles } = user;
    return { id, email, emailVerified, name, roles };
  }

  async function findIdentity(providerId: string, subject: string) {
    const rows = await db
      .select({ identity: oauthIdentities, user: users })
      .from(oauthIdentities)
      .innerJoin(users, eq(users.id, oauthIdentities.userId))
      .where(and(eq(oauthIdentities.provider, providerId), eq(oauthIdentities.subject, subject)))
      .limit(1);
    return rows[0];
  }

  async function insertIdentity(
    tx: Pick<Database, "insert">,
    userId: string,
    providerId: string,
    profile: ProviderProfile,
    sealed: Awaited<ReturnType<typeof sealTokens>>,
  ): Promise<string> {
    const id = crypto.randomUUID();
    await tx.insert(oauthIdentities).values({
      id,
      userId,
      provider: providerId,
      subject: profile.subject,
      email: profile.email,
      emailVerified: profile.emailVerified,
      name: profile.name,
      avatarUrl: profile.avatarUrl,
      ...sealed,
      lastLoginAt: now(),
    });
    return id;
  }

  /** A sign-in with an identity seen before: its profile and tokens as the provider now has them. */
  async function updateIdentity(
    identity: IdentityRow,
    profile: ProviderProfile,
    sealed: Awaited<ReturnType<typeof sealTokens>>,
    tx: Pick<Database, "update"> = db,
  ) {
    await tx
      .update(oauthIdentities)
      .set({
        email: profile.email,
        emailVerified: profile.emailVerified,
        name: profile.name,
        avatarUrl: profile.avatarUrl,
        ...sealed,
        // No refresh token this time: the one kept still works.
        refreshToken: sealed.refreshToken ?? identity.refreshToken,
        lastLoginAt: now(),
      })
      .where(eq(oauthIdentities.id, identity.id));
    tokenCache.delete(`${identity.userId}:${identity.provider}`);
  }

  /** Signs in with an identity seen before, or creates or links one under the rules. */
  async function userForLogin(
    source: Provider,
    profile: ProviderProfile,
    sealed: Awaited<ReturnType<typeof sealTokens>>,
  ): Promise<{ user: typeof users.$inferSelect; identityId: string }> {
    const known = await findIdentity(source.id, profile.subject);
    if (known) {
      await updateIdentity(known.identity, profile, sealed);
      return { user: known.user, identityId: known.identity.id };
    }
    if (!profile.email)
      throw new OAuthError(
        400,
        `Your ${source.displayName} account gives no email address, which an account here needs.`,
      );
    const email = profile.email;
    const existing = (await db.select().from(users).where(eq(users.email, email)).limit(1))[0];
    if (existing) {
      // Linked by address only when both sides have verified it.
      if (!(existing.emailVerified && profile.emailVerified))
        throw new OAuthError(
          409,
          `An account with the address ${email} exists already. Sign in to it, then link ${source.displayName} from your account page.`,
        );
      const identityId = await insertIdentity(db, existing.id, source.id, profile, sealed);
      audit("oauth.linked", {
        userId: existing.id,
        detail: { provider: source.id, by: "verified_email" },
      });
      return { user: existing, identityId };
    }
    if (!deps.registrationEnabled)
      throw new OAuthError(403, "There is no account for you here, and registration is closed.");
    const id = crypto.randomUUID();
    const created = await db.transaction(async (tx) => {
      const rows = await tx
        .insert(users)
        .values({ id, email, emailVerified: profile.emailVerified, name: profile.name ?? "" })
        .onConflictDoNothing({ target: users.email })
        .returning();
      const user = rows[0];
      if (!user) return undefined;
      return { user, identityId: await insertIdentity(tx, id, source.id, profile, sealed) };
    });
    if (!created)
      throw new OAuthError(
        409,
        `An account with the address ${email} was just created. Please sign in again.`,
      );
    audit("user.registered", { userId: id, detail: { method: `oauth:${source.id}` } });
    return created;
  }

  /**
   * Links a provider account to a signed-in user. The account's address must
   * be verified, and the identity goes in only while the linking session
   * still exists, in one transaction behind the user's row: a first proof of
   * the address (which removes identities and sessions made before it)
   * cannot be overtaken.
   */
  async function linkTo(
    current: { userId: string; sessionId: string },
    source: Provider,
    profile: ProviderProfile,
    sealed: Awaited<ReturnType<typeof sealTokens>>,
  ) {
    const { userId } = current;
    const linkedElsewhere = () =>
      new OAuthError(
        409,
        `This ${source.displayName} account is linked to another account already.`,
      );
    const known = await findIdentity(source.id, profile.subject);
    if (known && known.user.id !== userId) throw linkedElsewhere();
    try {
      await db.transaction(async (tx) => {
        const [user] = await tx
          .select({ emailVerified: users.emailVerified })
          .from(users)
          .where(eq(users.id, userId))
          .for("share");
        if (!user?.emailVerified) throw new OAuthError(403, LINK_NEEDS_VERIFIED_EMAIL);
        const [live] = await tx
          .select({ id: sessionRows.id })
          .from(sessionRows)
          .where(and(eq(sessionRows.id, current.sessionId), eq(sessionRows.userId, userId)))
          .for("share");
        if (!live) throw new OAuthError(400, STARTED_ELSEWHERE);
        if (known) await updateIdentity(known.identity, profile, sealed, tx);
        else await insertIdentity(tx, userId, source.id, profile, sealed);
      });
    } catch (error) {
      if (error instanceof OAuthError || isStoreUnavailable(error)) throw error;
      throw linkedElsewhere(); // the same provider account, linked by someone else meanwhile
    }
    tokenCache.delete(`${userId}:${source.id}`);
    audit("oauth.linked", { userId, detail: { provider: source.id, by: "user" } });
  }

  async function readIdentity(
    userId: string,
    providerId: string,
  ): Promise<IdentityRow | undefined> {
    const rows = await db
      .select()
      .from(oauthIdentities)
      .where(and(eq(oauthIdentities.userId, userId), eq(oauthIdentities.provider, providerId)))
      .limit(1);
    return rows[0];
  }

  const live = (expiresAt: number | null) =>
    expiresAt === null || expiresAt - REFRESH_MARGIN_MS > clock.now();

  /** Refreshes the access token; of concurrent callers in this process, one asks the provider. */
  async function refreshToken(userId: string, source: Provider, row: IdentityRow): Promise<string> {
    const sealedRefresh = row.refreshToken;
    const token = sealedRefresh ? await vault.open(sealedRefresh) : null;
    const expired = () =>
      new UpstreamTokenError(
        "expired",
        `Your ${source.displayName} sign-in has expired. Sign in with it again.`,
      );
    if (!token || !source.refresh) throw expired();
    let fresh: ProviderTokens;
    try {
      fresh = await source.refresh(token);
    } catch (error) {
      // Another replica may have used the refresh token first: take what it stored.
      const again = await readIdentity(userId, source.id);
      const theirs = again && again.refreshToken !== sealedRefresh && (await liveToken(again));
      if (theirs) return theirs.token;
      if (error instanceof ProviderError && error.kind === "refused") throw expired();
      throw new UpstreamTokenError(
        "unavailable",
        `${source.displayName} cannot be reached to renew your token.`,
      );
    }
    const sealed = await sealTokens(fresh, sealedRefresh);
    await db.update(oauthIdentities).set(sealed).where(eq(oauthIdentities.id, row.id));
    tokenCache.set(`${userId}:${source.id}`, {
      token: fresh.accessToken,
      expiresAt: fresh.expiresAt?.getTime() ?? null,
    });
    audit("oauth.token_refreshed", { userId, detail: { provider: source.id } });
    return fresh.accessToken;
  }

  async function liveToken(
    row: IdentityRow,
  ): Promise<{ token: string; expiresAt: number | null } | null> {
    const token = row.accessToken ? await vault.open(row.accessToken) : null;
    const expiresAt = row.tokenExpiresAt?.getTime() ?? null;
    return token && live(expiresAt) ? { token, expiresAt } : null;
  }

  /**
   * Refreshes under the replicas' lock when there is one: the replica that
   * gets it asks the provider, the others wait for the token it stores.
   */
  async function refreshOnce(userId: string, source: Provider, row: IdentityRow): Promise<string> {
    const lock = deps.refreshLock;
    const holdMs = (deps.refreshTimeoutMs ?? 10_000) + 5_000;
    const lockKey = `oauth-refresh:${row.id}`;
    let held = false;
    try {
      held = lock ? await lock.acquire(lockKey, holdMs) : false;
    } catch {
      return refreshToken(userId, source, row); // the lock cannot answer: refresh here
    }
    if (lock && !held) {
      for (let waited = 0; waited < holdMs; waited += LOCK_WAIT_STEP_MS) {
        await new Promise((resolve) => setTimeout(resolve, LOCK_WAIT_STEP_MS));
        const again = await readIdentity(userId, source.id);
        const stored = again && (await liveToken(again));
        if (stored) {
          tokenCache.set(`${userId}:${source.id}`, stored);
          return stored.token;
        }
      }
      return refreshToken(userId, source, (await readIdentity(userId, source.id)) ?? row);
    }
    try {
      // Another replica may have finished just before the lock was ours.
      const latest = (await readIdentity(userId, source.id)) ?? row;
      const stored = await liveToken(latest);
      if (stored) return stored.token;
      return await refreshToken(userId, source, latest);
    } finally {
      if (held) await lock?.release(lockKey).catch(() => {});
    }
  }

  /** Drops a user's provider tokens here and on every other replica. */
  function dropTokens(userId: string, providerIds: string[]): void {
    const keys = providerIds.map((id) => `${userId}:${id}`);
    for (const key of keys) tokenCache.delete(key);
    if (keys.length > 0) deps.onTokensForgotten?.(keys);
  }

  return {
    /** The providers offered, in configuration order. */
    list: () => [...providers.values()].map(({ id, displayName }) => ({ id, displayName })),

    /**
     * Starts a sign-in (or a link, for a signed-in user, whose address must be
     * verified): returns the provider's URL and the browser's handle.
     */
    async start(providerId: string, options: { returnTo: string | null; linkUserId?: string }) {
      const source = provider(providerId);
      if (options.linkUserId) {
        const [user] = await db
          .select({ emailVerified: users.emailVerified })
          .from(users)
          .where(eq(users.id, options.linkUserId))
          .limit(1);
        if (!user?.emailVerified) throw new OAuthError(403, LINK_NEEDS_VERIFIED_EMAIL);
      }
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
      await db.delete(oauthFlows).where(lt(oauthFlows.expiresAt, now()));
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
      params: { code?: string; state?: string; error?: string; errorDescription?: string },
      current: { userId: string | null; sessionId: string | null },
      meta: ClientMeta,
    ): Promise<{ signedIn?: SignedIn; linked?: true; returnTo: string | null }> {
      const source = provider(providerId);
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
          ip: meta.ip,
          detail: { provider: source.id, reason: error.message },
        });
        throw new OAuthError(
          error.kind === "unreachable" ? 502 : 400,
          `${source.displayName} could not sign you in: ${error.message}.`,
        );
      }
      const sealed = await sealTokens(tokens, null);
      if (flow.linkUserId) {
        if (current.userId !== flow.linkUserId || !current.sessionId)
          throw new OAuthError(400, STARTED_ELSEWHERE);
        await linkTo(
          { userId: flow.linkUserId, sessionId: current.sessionId },
          source,
          profile,
          sealed,
        );
        return { linked: true, returnTo: flow.returnTo };
      }
      const { user, identityId } = await userForLogin(source, profile, sealed);
      if (user.disabledAt) throw new OAuthError(403, "This account is disabled.");
      const method = `oauth:${source.id}`;
      // The session goes in only while the identity is still the account's: a
      // first proof of the address that removes it meanwhile wins.
      const created = await sessions.createIf({ identityId }, user.id, method, meta);
      if (!created) throw new OAuthError(409, SIGN_IN_CHANGED);
      const { token, session } = created;
      audit("user.login", { userId: user.id, ip: meta.ip, detail: { method } });
      return {
        signedIn: { user: toSessionUser(user), token, sessionId: session.id },
        returnTo: flow.returnTo,
      };
    },

    async identities(userId: string): Promise<IdentitySummary[]> {
      const rows = await db
        .select()
        .from(oauthIdentities)
        .where(eq(oauthIdentities.userId, userId))
        .orderBy(oauthIdentities.createdAt);
      return rows.map((row) => ({
        id: row.id,
        provider: row.provider,
        providerName: providers.get(row.provider)?.displayName ?? row.provider,
        email: row.email,
        name: row.name,
        createdAt: row.createdAt.toISOString(),
        lastLoginAt: row.lastLoginAt?.toISOString() ?? null,
      }));
    },

    /** Unlinks a provider; the last way to sign in cannot be removed. */
    async unlink(userId: string, identityId: string): Promise<void> {
      const [owned, others, password] = await Promise.all([
        db
          .select()
          .from(oauthIdentities)
          .where(and(eq(oauthIdentities.id, identityId), eq(oauthIdentities.userId, userId))),
        db
          .select({ id: oauthIdentities.id })
          .from(oauthIdentities)
          .where(eq(oauthIdentities.userId, userId)),
        db
          .select({ userId: passwordCredentials.userId })
          .from(passwordCredentials)
          .where(eq(passwordCredentials.userId, userId)),
      ]);
      const identity = owned[0];
      if (!identity) throw new ServiceError("not_found", "No such linked account.");
      if (others.length <= 1 && password.length === 0)
        throw new ServiceError(
          "conflict",
          "This is your only way to sign in. Set a password (“Forgot your password?”) or link another provider first.",
        );
      await db.delete(oauthIdentities).where(eq(oauthIdentities.id, identityId));
      dropTokens(userId, [identity.provider]);
      audit("oauth.unlinked", { userId, detail: { provider: identity.provider } });
    },

    /**
     * Provider tokens of identities a caller removed in SQL (a first proof of
     * the address): this replica forgets them, and tells the others.
     */
    dropTokens,

    /** Forgets provider tokens another replica dropped. */
    forgetTokens(keys: string[]): void {
      for (const key of keys) tokenCache.delete(key);
    },

    /** The user's live access token from a provider, refreshed when it is about to expire. */
    async upstreamToken(userId: string, providerId: string): Promise<string> {
      const key = `${userId}:${providerId}`;
      const cached = tokenCache.get(key);
      if (cached && live(cached.expiresAt)) return cached.token;
      const pending = refreshing.get(key);
      if (pending) return pending;
      const work = (async () => {
        const source = provider(providerId);
        const row = await readIdentity(userId, providerId);
        if (!row?.accessToken)
          throw new UpstreamTokenError(
            "not_linked",
            `sign in with ${source.displayName} (or link it on your account page) to use this`,
          );
        const stored = await liveToken(row);
        if (stored) {
          tokenCache.set(key, stored);
          return stored.token;
        }
        return refreshOnce(userId, source, row);
      })();
      refreshing.set(key, work);
      try {
        return await work;
      } finally {
        refreshing.delete(key);
      }
    },
  };
}

export type OAuthService = ReturnType<typeof createOAuthService>;
