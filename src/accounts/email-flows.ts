// The flows that run through the user's mailbox: address verification,
// password reset, and the notices that go with registration and password
// changes. Links carry single-use tokens (link-tokens.ts); a link's GET only
// shows a page, its button POSTs, so mail scanners that follow links use
// nothing up. Whatever an address is, requests about it answer alike, and
// the work that depends on it happens after the answer. A link that is the
// first proof of the address removes what was made before it (first-proof.ts).
import { eq } from "drizzle-orm";
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import type { Database } from "../db/client.ts";
import { passwordCredentials, sessions as sessionRows, users } from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import type { Translate } from "../i18n/catalogue.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Mailer } from "../mail/mailer.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionUser } from "../sessions/store.ts";
import type { Audit } from "./audit.ts";
import { requireNewPassword } from "./fields.ts";
import {
  type Cleared,
  describeRemoved,
  INVALID_LINK,
  proveAddress,
  type Removed,
  removedAnything,
} from "./first-proof.ts";
import type { EmailTokenStore, TokenOwner, TokenPurpose } from "./link-tokens.ts";
import { clientKey, takePoint } from "./login-throttle.ts";
import { type PasswordHasher, refuseWhenOverloaded } from "./passwords.ts";
import type { AccountNotifications, ClientMeta } from "./service.ts";

export type { Removed } from "./first-proof.ts";

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

/** "30 minutes", "24 hours", "7 days": how long a link works, for the message, in `t`'s language. */
export function describeDuration(seconds: number, t: Translate): string {
  const units: [number, string][] = [
    [86_400, "mail.durationDays"],
    [3600, "mail.durationHours"],
    [60, "mail.durationMinutes"],
  ];
  for (const [size, key] of units) {
    if (seconds >= size && seconds % size === 0) return t(key, { count: seconds / size });
  }
  return t("mail.durationMinutes", { count: Math.max(1, Math.round(seconds / 60)) });
}

export function createEmailFlows(deps: EmailFlowDeps) {
  const { db, tokens, mailer, audit, clock, limits } = deps;
  const now = () => new Date(clock.now());
  const link = (path: string, token?: string) =>
    `${deps.linkBase}${path}${token ? `?token=${token}` : ""}`;
  const verificationExpiry = (t: Translate) => describeDuration(deps.verificationTtlSeconds, t);
  const resetExpiry = (t: Translate) => describeDuration(deps.resetTtlSeconds, t);

  /** Runs work after the answer has gone; a failure is logged, never shown. */
  function afterAnswer(context: string, work: () => Promise<void>): void {
    setImmediate(() => {
      work().catch((error) => deps.logError(error, context));
    });
  }

  async function sendVerification(owner: TokenOwner, locale?: string): Promise<void> {
    const expires = new Date(clock.now() + deps.verificationTtlSeconds * 1000);
    const token = await tokens.issue(owner, "verify_email", expires);
    mailer.post(
      "verify-email",
      owner.email,
      {
        email: owner.email,
        link: link("/verify-email", token),
        expiresIn: verificationExpiry,
      },
      locale,
    );
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

  /** After the commit: every cache and replica drops what the proof removed. */
  async function dropRemoved(userId: string, cleared: Cleared): Promise<void> {
    deps.dropCached.apiKeys(cleared.keyHashes);
    deps.dropCached.providerTokens(userId, cleared.removed.providers);
    await deps.sessions.dropped(cleared.sessionIds);
  }

  const providerName = deps.providerName ?? ((id: string) => id);

  const notifications: AccountNotifications = {
    registered(user) {
      afterAnswer("verification email", () =>
        sendVerification({ userId: user.id, email: user.email }),
      );
    },
    alreadyRegistered(email, locale) {
      afterAnswer("already-registered notice", async () => {
        if ((await takePoint(limits.noticesPerAddress, email)) !== true) return;
        mailer.post(
          "already-registered",
          email,
          { email, loginLink: link("/login"), resetLink: link("/forgot-password") },
          locale,
        );
      });
    },
    async passwordChanged(user, removed?: Removed, locale?: string) {
      await tokens.revokeAll(user.id, "reset_password");
      mailer.post(
        "password-changed",
        user.email,
        {
          email: user.email,
          resetLink: link("/forgot-password"),
          removed: (t) => (removed ? describeRemoved(removed, t, providerName) : ""),
        },
        locale,
      );
    },
  };

  return {
    notifications,

    /** A signed-in user asks for the verification message again. */
    async resendVerification(
      user: SessionUser,
      locale?: string,
    ): Promise<{ alreadyVerified: boolean }> {
      if (user.emailVerified) return { alreadyVerified: true };
      const allowed = await takePoint(limits.verificationResends, user.id);
      if (allowed !== true) {
        throw new ServiceError(
          "rate_limited",
          "A message was sent recently. Check your inbox, or try again later.",
          allowed,
        );
      }
      await sendVerification({ userId: user.id, email: user.email }, locale);
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
      token: string,
      meta: ClientMeta,
      presenting?: PresentingSession | null,
      locale?: string,
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
      const cleared = await db.transaction((tx) => proveAddress(tx, owner.userId, now, keep));
      if (cleared) await dropRemoved(owner.userId, cleared);
      await deps.sessions.refreshUser(owner.userId);
      audit("user.email_verified", {
        userId: owner.userId,
        ...meta,
        ...(cleared ? { detail: { removed: cleared.removed } } : {}),
      });
      if (cleared && removedAnything(cleared.removed)) {
        const { removed } = cleared;
        mailer.post(
          "address-confirmed",
          owner.email,
          {
            email: owner.email,
            removed: (t) => describeRemoved(removed, t, providerName),
            resetLink: link("/forgot-password"),
          },
          locale,
        );
      }
      return { removed: cleared?.removed ?? null, signedIn: own !== undefined };
    },

    /** One sentence for the page, saying what a first proof removed, in `t`'s language. */
    describeRemoved: (removed: Removed, t: Translate) => describeRemoved(removed, t, providerName),

    /**
     * Somebody asks for a reset link. The answer is the same whatever the
     * address: only the form of the address and the client's request rate
     * are checked before answering; the rest happens after.
     */
    async requestPasswordReset(email: string, meta: ClientMeta, locale?: string): Promise<void> {
      const allowed = await takePoint(limits.perIp, clientKey(meta.ip));
      if (allowed !== true) {
        throw new ServiceError("rate_limited", "Too many requests. Try again later.", allowed);
      }
      afterAnswer("password reset request", async () => {
        const user = await findUser(email);
        if (!user || (await takePoint(limits.resetsPerAddress, email)) !== true) return;
        const expires = new Date(clock.now() + deps.resetTtlSeconds * 1000);
        const token = await tokens.issue(
          { userId: user.id, email: user.email },
          "reset_password",
          expires,
        );
        mailer.post(
          "reset-password",
          user.email,
          { email: user.email, link: link("/reset-password", token), expiresIn: resetExpiry },
          locale,
        );
        audit("user.password_reset_requested", { userId: user.id, ...meta });
      });
    },

    /**
     * The reset link's form: sets the new password, signs out every session,
     * and ends every other reset link. The address is verified too: the link
     * proved the user reads it; when that is the first proof, whatever was
     * made on the account before goes as well (`removed` says what).
     */
    async resetPassword(
      token: string,
      password: string | undefined,
      meta: ClientMeta,
      locale?: string,
    ): Promise<{ removed: Removed | null }> {
      // A weak password or a dead link is refused before any hashing, and a
      // weak password does not use the link up.
      await checkLink(token, "reset_password");
      // The policy is checked here, after the link: a dead link says so first.
      const next = requireNewPassword(password);
      const hash = await refuseWhenOverloaded(() => deps.hasher.hash(next));
      const owner = await tokens.consume(token, "reset_password", now());
      if (!owner) throw new ServiceError("invalid_token", INVALID_LINK);
      const { cleared, signedOut } = await db.transaction(async (tx) => {
        // The user's row first: sign-ins that checked the old password wait
        // behind it, and then find it changed.
        const cleared = await proveAddress(tx, owner.userId, now);
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
        locale,
      );
      audit("user.password_reset", {
        userId: owner.userId,
        ...meta,
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
