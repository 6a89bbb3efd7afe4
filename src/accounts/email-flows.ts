// The flows that run through the user's mailbox: address verification,
// password reset, and the notices that go with registration and password
// changes. Links carry single-use tokens (email/tokens.ts); a link's GET only
// shows a page, its button POSTs, so mail scanners that follow links use
// nothing up. Whatever an address is, requests about it answer alike, and
// the work that depends on it happens after the answer.
import { eq } from "drizzle-orm";
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import type { Database } from "../db/client.ts";
import { passwordCredentials, users } from "../db/schema.ts";
import type { Mailer } from "../email/mailer.ts";
import type { EmailTokenStore, TokenOwner, TokenPurpose } from "../email/tokens.ts";
import { ServiceError } from "../errors.ts";
import type { Clock, SessionService } from "../sessions/service.ts";
import type { SessionUser } from "../sessions/store.ts";
import type { Audit } from "./audit.ts";
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
  /** Messages one address receives from requests by others (reset links, "already registered"). */
  perAddress: RateLimiterAbstract;
  /** Reset requests from one client address. */
  perIp: RateLimiterAbstract;
};

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
};

const INVALID_LINK =
  "This link is not valid: it was already used, has expired, or was replaced by a newer one.";

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

  const notifications: AccountNotifications = {
    registered(user) {
      later("verification email", () => sendVerification({ userId: user.id, email: user.email }));
    },
    alreadyRegistered(email) {
      later("already-registered notice", async () => {
        if ((await take(limits.perAddress, email)) !== true) return;
        mailer.post("already-registered", email, {
          email,
          loginLink: link("/login"),
          resetLink: link("/forgot-password"),
        });
      });
    },
    async passwordChanged(user) {
      await tokens.revokeAll(user.id, "reset_password");
      mailer.post("password-changed", user.email, {
        email: user.email,
        resetLink: link("/forgot-password"),
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

    /** The verification link's button: the address is verified, and every session sees it at once. */
    async confirmVerification(token: unknown, meta: ClientMeta): Promise<void> {
      const owner = await tokens.consume(token, "verify_email", now());
      if (!owner) throw new ServiceError("invalid_token", INVALID_LINK);
      await db
        .update(users)
        .set({ emailVerified: true, updatedAt: now() })
        .where(eq(users.id, owner.userId));
      await deps.sessions.refreshUser(owner.userId);
      audit("user.email_verified", { userId: owner.userId, ip: meta.ip });
    },

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
        if (!user || (await take(limits.perAddress, email)) !== true) return;
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
     * proved the user reads it.
     */
    async resetPassword(token: unknown, password: unknown, meta: ClientMeta): Promise<void> {
      // A weak password or a dead link is refused before any hashing, and a
      // weak password does not use the link up.
      await checkLink(token, "reset_password");
      const next = requireNewPassword(password);
      const hash = await hashing(() => deps.hasher.hash(next));
      const owner = await tokens.consume(token, "reset_password", now());
      if (!owner) throw new ServiceError("invalid_token", INVALID_LINK);
      await db.transaction(async (tx) => {
        await tx
          .insert(passwordCredentials)
          .values({ userId: owner.userId, hash })
          .onConflictDoUpdate({
            target: passwordCredentials.userId,
            set: { hash, updatedAt: now() },
          });
        await tx
          .update(users)
          .set({ emailVerified: true, updatedAt: now() })
          .where(eq(users.id, owner.userId));
      });
      await notifications.passwordChanged({ id: owner.userId, email: owner.email });
      const signedOut = await deps.sessions.revokeAllForUser(owner.userId);
      audit("user.password_reset", { userId: owner.userId, ip: meta.ip, detail: { signedOut } });
    },
  };
}

export type EmailFlows = ReturnType<typeof createEmailFlows>;
