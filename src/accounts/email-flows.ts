// The flows that run through the user's mailbox: address verification,
// password reset, and the notices that go with registration and password
// changes. Links carry single-use tokens (email/tokens.ts); a link's GET only
// shows a page, its button POSTs, so mail scanners that follow links use
// nothing up. Whatever an address is, requests about it answer alike, and
// the work that depends on it happens after the answer.
//
// An account can be made for an address by someone who does not own it. The
// first time a link proves the address (a verification, or a reset of an
// unverified account), whatever was made on the account before that proof
// is removed: API keys, linked providers and their tokens, sessions, pending
// links. The answer and a notice say what went.
import { and, eq, isNull, ne } from "drizzle-orm";
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import type { Database } from "../db/client.ts";
import {
  apiKeys,
  emailTokens,
  oauthIdentities,
  passwordCredentials,
  sessions as sessionRows,
  users,
} from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Mailer } from "../mail/mailer.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionUser } from "../sessions/store.ts";
import type { Audit } from "./audit.ts";
import type { EmailTokenStore, TokenOwner, TokenPurpose } from "./link-tokens.ts";
import { clientKey, take } from "./login-throttle.ts";
import type { PasswordHasher } from "./passwords.ts";
import {
  type AccountNotifications,
  type ClientMeta,
  hashing,
  requireEmail,
  requireNewPassword,
} from "./service.ts";

export type EmailFlowLimits = {
  /** Verification messages a signed-in user may ask for again. */
  verificationResends: RateLimiterAbstract;
  /** Reset links one address receives. */
  resetsPerAddress: RateLimiterAbstract;
  /**
   * "Already registered" notices one address receives: a budget of their
   * own, so anonymous registrations can never use up the owner's reset mail.
   */
  noticesPerAddress: RateLimiterAbstract;
  /** Reset requests from one client address. */
  perIp: RateLimiterAbstract;
};

/** What a first proof of the address removed from the account. */
export type Removed = {
  /** Sessions signed out (the browser presenting a verification link keeps its own). */
  sessions: number;
  apiKeys: number;
  /** Ids of the providers unlinked. */
  providers: string[];
};

/** The browser presenting a verification link, when it is signed in. */
export type PresentingSession = { sessionId: string; userId: string; method: string };

export type EmailFlowDeps = {
  db: Database;
  hasher: PasswordHasher;
  sessions: SessionService;
  tokens: EmailTokenStore;
  mailer: Mailer;
  audit: Audit;
  clock: Clock;
  limits: EmailFlowLimits;
  /** Origin and prefix the links point to: https://auth.example.com/auth */
  linkBase: string;
  verificationTtlSeconds: number;
  resetTtlSeconds: number;
  logError: (error: unknown, context: string) => void;
  /** Tells the caches what a first proof removed in SQL (keys and provider tokens; sessions go through `sessions`). */
  dropCached: {
    apiKeys(hashes: string[]): void;
    providerTokens(userId: string, providerIds: string[]): void;
  };
  /** A provider's name for people; its id otherwise. */
  providerName?: (id: string) => string;
};

const INVALID_LINK =
  "This link is not valid: it was already used, has expired, or was replaced by a newer one.";

const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

/** One sentence saying what a first proof of the address removed, for pages and mail. */
export function describeRemoved(
  removed: Removed,
  providerName: (id: string) => string = (id) => id,
): string {
  const parts: string[] = [];
  if (removed.apiKeys > 0) parts.push(plural(removed.apiKeys, "API key", "API keys"));
  if (removed.providers.length > 0) {
    const names = removed.providers.map(providerName).join(", ");
    parts.push(
      `the linked sign-in ${removed.providers.length === 1 ? "provider" : "providers"} (${names})`,
    );
  }
  if (removed.sessions > 0)
    parts.push(plural(removed.sessions, "signed-in session", "signed-in sessions"));
  const what =
    parts.length === 0
      ? "nothing else had been set up on it"
      : `everything set up on it before was removed: ${parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}` : parts[0]}`;
  return `This was the first proof that the address belongs to its owner, so ${what}.`;
}

/** Whether a first proof removed anything worth telling. */
const removedAnything = (removed: Removed) =>
  removed.sessions > 0 || removed.apiKeys > 0 || removed.providers.length > 0;

/** "30 minutes", "24 hours", "7 days": how long a link works, for the message. */
export function describeDuration(seconds: number): string {
  const units: [number, string][] = [
    [86_400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ];
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) {
      const count = seconds / size;
      return `${count} ${name}${count === 1 ? "" : "s"}`;
    }
  }
  return `${Math.max(1, Math.round(seconds / 60))} minutes`;
}

export function createEmailFlows(deps: EmailFlowDeps) {
  const { db, tokens, mailer, audit, clock, limits } = deps;
  const now = () => new Date(clock.now());
  const link = (path: string, token?: string) =>
    `${deps.linkBase}${path}${token ? `?token=${token}` : ""}`;
  const verificationExpiry = describeDuration(deps.verificationTtlSeconds);
  const resetExpiry = describeDuration(deps.resetTtlSeconds);

  /** Runs work after the answer has gone; a failure is logged, never shown. */
  function later(context: string, work: () => Promise<void>): void {
    setImmediate(() => {
      work().catch((error) => deps.logError(error, context));
    });
  }

  async function sendVerification(owner: TokenOwner): Promise<void> {
    const expires = new Date(clock.now() + deps.verificationTtlSeconds * 1000);
    const token = await tokens.issue(owner, "verify_email", expires);
    mailer.post("verify-email", owner.email, {
      email: owner.email,
      link: link("/verify-email", token),
      expiresIn: verificationExpiry,
    });
  }

  async function findUser(email: string) {
    const rows = await db
      .select({ id: users.id, email: users.email, disabledAt: users.disabledAt })
      .from(users)
      .where(eq(users.email, email))
      .limit(1);
    const user = rows[0];
    return user && !user.disabledAt ? user : undefined;
  }

  async function checkLink(token: unknown, purpose: TokenPurpose): Promise<void> {
    if (!(await tokens.peek(token, purpose, now())))
      throw new ServiceError("invalid_token", INVALID_LINK);
  }

  type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];
  type Cleared = { removed: Removed; sessionIds: string[]; keyHashes: string[] };

  /**
   * Marks the address verified, inside the caller's transaction. The user's
   * row is taken first (FOR NO KEY UPDATE): whatever makes keys, identities
   * or sessions takes it FOR SHARE and checks again behind it, so nothing
   * made before this proof can land after it. On a first proof, everything
   * made on the account before is removed, but what `keep` names: the
   * session presenting a verification link holds both the account and the
   * mailbox, as does the provider it signed in with. Null when the address
   * was verified already.
   */
  async function proveAddress(
    tx: Transaction,
    userId: string,
    keep: { sessionId?: string; provider?: string } = {},
  ): Promise<Cleared | null> {
    const [user] = await tx
      .select({ emailVerified: users.emailVerified })
      .from(users)
      .where(eq(users.id, userId))
      .for("no key update");
    if (!user) throw new ServiceError("invalid_token", INVALID_LINK);
    if (user.emailVerified) return null;
    await tx
      .update(users)
      .set({ emailVerified: true, updatedAt: now() })
      .where(eq(users.id, userId));
    const keys = await tx
      .update(apiKeys)
      .set({ revokedAt: now() })
      .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
      .returning({ hash: apiKeys.hash });
    const identities = await tx
      .delete(oauthIdentities)
      .where(
        keep.provider
          ? and(eq(oauthIdentities.userId, userId), ne(oauthIdentities.provider, keep.provider))
          : eq(oauthIdentities.userId, userId),
      )
      .returning({ provider: oauthIdentities.provider });
    const signedOut = await tx
      .delete(sessionRows)
      .where(
        keep.sessionId
          ? and(eq(sessionRows.userId, userId), ne(sessionRows.id, keep.sessionId))
          : eq(sessionRows.userId, userId),
      )
      .returning({ id: sessionRows.id });
    await tx
      .update(emailTokens)
      .set({ usedAt: now() })
      .where(and(eq(emailTokens.userId, userId), isNull(emailTokens.usedAt)));
    return {
      removed: {
        sessions: signedOut.length,
        apiKeys: keys.length,
        providers: [...new Set(identities.map((row) => row.provider))],
      },
      sessionIds: signedOut.map((row) => row.id),
      keyHashes: keys.map((row) => row.hash),
    };
  }

  /** After the commit: every cache and replica drops what the proof removed. */
  async function dropRemoved(userId: string, cleared: Cleared): Promise<void> {
    deps.dropCached.apiKeys(cleared.keyHashes);
    deps.dropCached.providerTokens(userId, cleared.removed.providers);
    await deps.sessions.dropped(cleared.sessionIds);
  }

  const providerName = deps.providerName ?? ((id: string) => id);

  const notifications: AccountNotifications = {
    registered(user) {
      later("verification email", () => sendVerification({ userId: user.id, email: user.email }));
    },
    alreadyRegistered(email) {
      later("already-registered notice", async () => {
        if ((await take(limits.noticesPerAddress, email)) !== true) return;
        mailer.post("already-registered", email, {
          email,
          loginLink: link("/login"),
          resetLink: link("/forgot-password"),
        });
      });
    },
    async passwordChanged(user, removed?: Removed) {
      await tokens.revokeAll(user.id, "reset_password");
      mailer.post("password-changed", user.email, {
        email: user.email,
        resetLink: link("/forgot-password"),
        removed: removed ? describeRemoved(removed, providerName) : "",
      });
    },
  };

  return {
    notifications,

    /** A signed-in user asks for the verification message again. */
    async resendVerification(user: SessionUser): Promise<{ alreadyVerified: boolean }> {
      if (user.emailVerified) return { alreadyVerified: true };
      const allowed = await take(limits.verificationResends, user.id);
      if (allowed !== true) {
        throw new ServiceError(
          "rate_limited",
          "A message was sent recently. Check your inbox, or try again later.",
          allowed,
        );
      }
      await sendVerification({ userId: user.id, email: user.email });
      return { alreadyVerified: false };
    },

    /** Whether a link would work, for the page it opens; uses nothing up. */
    checkLink,

    /**
     * The verification link's button: the address is verified, and every
     * session sees it at once. On a first proof, whatever was made on the
     * account before goes (but the presenting browser's own session, and
     * the provider it signed in with); `removed` says what, and the address
     * is told when anything went.
     */
    async confirmVerification(
      token: unknown,
      meta: ClientMeta,
      presenting?: PresentingSession | null,
    ): Promise<{ removed: Removed | null; signedIn: boolean }> {
      const owner = await tokens.consume(token, "verify_email", now());
      if (!owner) throw new ServiceError("invalid_token", INVALID_LINK);
      const own = presenting?.userId === owner.userId ? presenting : undefined;
      const keep = own
        ? {
            sessionId: own.sessionId,
            ...(own.method.startsWith("oauth:") ? { provider: own.method.slice(6) } : {}),
          }
        : {};
      const cleared = await db.transaction((tx) => proveAddress(tx, owner.userId, keep));
      if (cleared) await dropRemoved(owner.userId, cleared);
      await deps.sessions.refreshUser(owner.userId);
      audit("user.email_verified", {
        userId: owner.userId,
        ip: meta.ip,
        ...(cleared ? { detail: { removed: cleared.removed } } : {}),
      });
      if (cleared && removedAnything(cleared.removed)) {
        mailer.post("address-confirmed", owner.email, {
          email: owner.email,
          removed: describeRemoved(cleared.removed, providerName),
          resetLink: link("/forgot-password"),
        });
      }
      return { removed: cleared?.removed ?? null, signedIn: own !== undefined };
    },

    /** One sentence for the page, saying what a first proof removed. */
    describeRemoved: (removed: Removed) => describeRemoved(removed, providerName),

    /**
     * Somebody asks for a reset link. The answer is the same whatever the
     * address: only the form of the address and the client's request rate
     * are checked before answering; the rest happens after.
     */
    async requestPasswordReset(input: unknown, meta: ClientMeta): Promise<void> {
      const email = requireEmail(input);
      const allowed = await take(limits.perIp, clientKey(meta.ip));
      if (allowed !== true) {
        throw new ServiceError("rate_limited", "Too many requests. Try again later.", allowed);
      }
      later("password reset request", async () => {
        const user = await findUser(email);
        if (!user || (await take(limits.resetsPerAddress, email)) !== true) return;
        const expires = new Date(clock.now() + deps.resetTtlSeconds * 1000);
        const token = await tokens.issue(
          { userId: user.id, email: user.email },
          "reset_password",
          expires,
        );
        mailer.post("reset-password", user.email, {
          email: user.email,
          link: link("/reset-password", token),
          expiresIn: resetExpiry,
        });
        audit("user.password_reset_requested", { userId: user.id, ip: meta.ip });
      });
    },

    /**
     * The reset link's form: sets the new password, signs out every session,
     * and ends every other reset link. The address is verified too: the link
     * proved the user reads it; when that is the first proof, whatever was
     * made on the account before goes as well (`removed` says what).
     */
    async resetPassword(
      token: unknown,
      password: unknown,
      meta: ClientMeta,
    ): Promise<{ removed: Removed | null }> {
      // A weak password or a dead link is refused before any hashing, and a
      // weak password does not use the link up.
      await checkLink(token, "reset_password");
      const next = requireNewPassword(password);
      const hash = await hashing(() => deps.hasher.hash(next));
      const owner = await tokens.consume(token, "reset_password", now());
      if (!owner) throw new ServiceError("invalid_token", INVALID_LINK);
      const { cleared, signedOut } = await db.transaction(async (tx) => {
        // The user's row first: sign-ins that checked the old password wait
        // behind it, and then find it changed.
        const cleared = await proveAddress(tx, owner.userId);
        await tx
          .insert(passwordCredentials)
          .values({ userId: owner.userId, hash })
          .onConflictDoUpdate({
            target: passwordCredentials.userId,
            set: { hash, updatedAt: now() },
          });
        const rest = await tx
          .delete(sessionRows)
          .where(eq(sessionRows.userId, owner.userId))
          .returning({ id: sessionRows.id });
        return { cleared, signedOut: rest.map((row) => row.id) };
      });
      if (cleared) await dropRemoved(owner.userId, cleared);
      await deps.sessions.dropped(signedOut);
      await notifications.passwordChanged(
        { id: owner.userId, email: owner.email },
        cleared?.removed,
      );
      audit("user.password_reset", {
        userId: owner.userId,
        ip: meta.ip,
        detail: {
          signedOut: signedOut.length + (cleared?.removed.sessions ?? 0),
          ...(cleared ? { removed: cleared.removed } : {}),
        },
      });
      return { removed: cleared?.removed ?? null };
    },
  };
}

export type EmailFlows = ReturnType<typeof createEmailFlows>;
