// Email/password accounts: registration, login, password change, logout.
// Login never reveals whether an address is known: unknown addresses are
// verified against a dummy hash and fail exactly like a wrong password. Inputs
// arrive checked by the rules in fields.ts (the HTTP edge validates with them).
import { eq } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { type ProviderSessionRecord, passwordCredentials, users } from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import type { SessionGuard, SessionService } from "../sessions/service.ts";
import type { SessionUser } from "../sessions/store.ts";
import type { Audit } from "./audit.ts";
import type { Removed } from "./first-proof.ts";
import type { LoginThrottle } from "./login-throttle.ts";
import { overloaded, type PasswordHasher, refuseWhenOverloaded } from "./passwords.ts";

export type ClientMeta = { ip: string | null; userAgent: string | null };

/** What the email flows are told of; each call returns at once, mail goes out in the background. */
export type AccountNotifications = {
  registered(user: SessionUser): void;
  /** Somebody tried to register an address that has an account (from a page in `locale`). */
  alreadyRegistered(email: string, locale?: string): void;
  /** Ends the user's reset links and tells the address (and what a first proof of it removed). */
  passwordChanged(
    user: { id: string; email: string },
    removed?: Removed,
    locale?: string,
  ): Promise<void>;
};

export type AccountServiceDeps = {
  db: Database;
  hasher: PasswordHasher;
  sessions: SessionService;
  throttle: LoginThrottle;
  audit: Audit;
  notify: AccountNotifications;
  registrationEnabled: boolean;
  /** REGISTRATION_MODE's check of the address (registration-policy.ts): throws when it may not register. */
  checkAddress?: (email: string) => void;
  /** Registration opens a session at once; otherwise the user signs in after. */
  registrationSignsIn: boolean;
  /**
   * A password opens a session only for a verified address (REGISTRATION_MODE=
   * domains: naming an address at the domain is not being there).
   */
  passwordNeedsVerifiedAddress?: boolean;
  /** Accounts with a second factor get a half sign-in instead of a session. */
  secondStep?: SecondStep;
  /** Told how each password sign-in ended (gatehouse_login_total). */
  onLogin?: (result: LoginResult) => void;
};

/** How a password sign-in ended. */
export type LoginResult = "success" | "failure" | "rate_limited" | "disabled" | "overloaded";

export type SignedIn = { user: SessionUser; token: string; sessionId: string };

/** Half signed in: the first factor was proven, a second one is owed (mfa/pending.ts). */
export type HalfSignedIn = { user: SessionUser; halfSignedIn: string };

/**
 * Asked before a sign-in's session is made: the half sign-in's token when
 * the account has a second factor to prove first, else null.
 */
export type SecondStep = (start: {
  user: SessionUser;
  method: string;
  amr: string[];
  guard: SessionGuard;
  /** A provider sign-in's provider session, for the session the factor makes. */
  providerSession?: ProviderSessionRecord | null;
}) => Promise<string | null>;

export function createAccountService(deps: AccountServiceDeps) {
  const { db, hasher, sessions, throttle, audit, notify } = deps;
  const counted = (result: LoginResult) => deps.onLogin?.(result);

  async function findByEmail(email: string) {
    const rows = await db
      .select({ user: users, hash: passwordCredentials.hash })
      .from(users)
      .leftJoin(passwordCredentials, eq(passwordCredentials.userId, users.id))
      .where(eq(users.email, email))
      .limit(1);
    return rows[0];
  }

  function toSessionUser(user: typeof users.$inferSelect): SessionUser {
    return {
      id: user.id,
      email: user.email,
      emailVerified: user.emailVerified,
      name: user.name,
      roles: user.roles,
    };
  }

  async function signIn(user: SessionUser, method: string, meta: ClientMeta): Promise<SignedIn>;
  async function signIn(
    user: SessionUser,
    method: string,
    meta: ClientMeta,
    guard: SessionGuard,
  ): Promise<SignedIn | null>;
  async function signIn(
    user: SessionUser,
    method: string,
    meta: ClientMeta,
    guard?: SessionGuard,
  ): Promise<SignedIn | null> {
    const created = guard
      ? await sessions.createIf(guard, user.id, method, meta)
      : await sessions.create(user.id, method, meta);
    if (!created) return null;
    audit("user.login", { userId: user.id, ...meta, detail: { method } });
    return { user, token: created.token, sessionId: created.session.id };
  }

  /**
   * Runs a password check whose point was already taken: a full hasher
   * refuses before any lookup (a storm costs no database work; known and
   * unknown addresses alike) and gives the point back, as it checked nothing.
   */
  async function checkedPassword<T>(
    account: string,
    meta: ClientMeta,
    check: () => Promise<T>,
  ): Promise<T> {
    try {
      if (!hasher.hasCapacity()) throw overloaded();
      return await refuseWhenOverloaded(check);
    } catch (error) {
      if (error instanceof ServiceError && error.code === "overloaded")
        await throttle.refund(account, meta.ip);
      throw error;
    }
  }

  function checkRegistrationOpen(): void {
    if (!deps.registrationEnabled)
      throw new ServiceError("registration_closed", "Registration is closed.");
  }

  return {
    /** Refuses when self-registration is closed (checked before the form's fields are). */
    checkRegistrationOpen,

    /**
     * Creates an account, and signs it in when registration does. For an
     * address that already has an account nothing is created, the address is
     * told, and `existing` is returned, so the caller can answer without
     * saying so.
     */
    async register(
      input: { email: string; password: string; name: string; locale?: string },
      meta: ClientMeta,
    ): Promise<{ created: SessionUser; signedIn?: SignedIn } | { existing: true }> {
      checkRegistrationOpen();
      const { email, password, name } = input;
      deps.checkAddress?.(email);
      const hash = await refuseWhenOverloaded(() => hasher.hash(password));
      const id = crypto.randomUUID();
      const inserted = await db.transaction(async (tx) => {
        const rows = await tx
          .insert(users)
          .values({ id, email, name, locale: input.locale ?? null })
          .onConflictDoNothing({ target: users.email })
          .returning();
        const user = rows[0];
        if (user) await tx.insert(passwordCredentials).values({ userId: id, hash });
        return user;
      });
      if (!inserted) {
        notify.alreadyRegistered(email, input.locale);
        return { existing: true };
      }
      audit("user.registered", { userId: id, ...meta, detail: { method: "password" } });
      const created = toSessionUser(inserted);
      notify.registered(created);
      if (!deps.registrationSignsIn || deps.passwordNeedsVerifiedAddress) return { created };
      return { created, signedIn: await signIn(created, "password", meta) };
    },

    /**
     * Verifies email and password and opens a new session. `password` is
     * undefined when what was sent cannot be a password: it fails like a
     * wrong one, after being counted.
     */
    async login(
      input: { email: string; password: string | undefined },
      meta: ClientMeta,
    ): Promise<SignedIn | HalfSignedIn> {
      const { email, password } = input;
      // Counted before the password is checked: concurrent guesses each take
      // their own point, so none is checked past the limit.
      const allowed = await throttle.attempt(email, meta.ip);
      if (allowed !== true) {
        counted("rate_limited");
        throw new ServiceError(
          "rate_limited",
          "Too many failed sign-ins. Try again later.",
          allowed,
        );
      }
      let found: { ok: boolean; row: Awaited<ReturnType<typeof findByEmail>> };
      try {
        found = await checkedPassword(email, meta, async () => {
          const row = await findByEmail(email);
          const ok = await hasher.verify(row?.hash ?? undefined, password ?? "");
          return { ok, row };
        });
      } catch (error) {
        if (error instanceof ServiceError && error.code === "overloaded") counted("overloaded");
        throw error;
      }
      const { ok } = found;
      if (!ok || !found.row || password === undefined) {
        audit("user.login_failed", {
          userId: found.row?.user.id ?? null,
          ...meta,
          detail: { method: "password" },
        });
        counted("failure");
        throw new ServiceError("invalid_credentials", "Invalid email or password.");
      }
      const { user, hash } = found.row;
      if (user.disabledAt) {
        counted("disabled");
        throw new ServiceError("account_disabled", "This account is disabled.");
      }
      await throttle.succeeded(email, meta.ip);
      if (deps.passwordNeedsVerifiedAddress && !user.emailVerified) {
        counted("failure");
        throw new ServiceError(
          "email_not_verified",
          "Confirm your email address first: follow the link we sent to it, then sign in.",
        );
      }
      const half =
        hash && deps.secondStep
          ? await deps.secondStep({
              user: toSessionUser(user),
              method: "password",
              amr: ["pwd"],
              guard: { passwordHash: hash },
            })
          : null;
      if (half) {
        counted("success");
        return { user: toSessionUser(user), halfSignedIn: half };
      }
      // The session goes in only while the password just checked is still the
      // account's: a reset that lands meanwhile wins, and no session made with
      // the old password survives it.
      const signedIn = hash
        ? await signIn(toSessionUser(user), "password", meta, { passwordHash: hash })
        : null;
      if (!signedIn) {
        counted("failure");
        throw new ServiceError("invalid_credentials", "Invalid email or password.");
      }
      counted("success");
      return signedIn;
    },

    /**
     * Changes the password of a signed-in user, who must give the current one
     * (undefined: what was sent cannot be a password, so it is wrong).
     */
    async changePassword(
      current: { user: SessionUser; sessionId: string },
      input: { currentPassword: string | undefined; newPassword: string; signOutOthers: boolean },
      meta: ClientMeta,
    ): Promise<{ signedOut: number }> {
      const { user } = current;
      const { newPassword: next, currentPassword: given } = input;
      const rows = await db
        .select({ hash: passwordCredentials.hash })
        .from(passwordCredentials)
        .where(eq(passwordCredentials.userId, user.id))
        .limit(1);
      const stored = rows[0]?.hash;
      if (!stored) {
        throw new ServiceError(
          "invalid_request",
          "This account has no password yet. Use “Forgot your password?” to set one.",
        );
      }
      const allowed = await throttle.attempt(user.email, meta.ip);
      if (allowed !== true) {
        throw new ServiceError(
          "rate_limited",
          "Too many wrong passwords. Try again later.",
          allowed,
        );
      }
      const { ok } = await checkedPassword(user.email, meta, async () => ({
        ok: await hasher.verify(stored, given ?? ""),
      }));
      if (!ok || given === undefined) {
        audit("user.password_change_failed", { userId: user.id, ...meta });
        throw new ServiceError("wrong_password", "The current password is not correct.");
      }
      await throttle.refund(user.email, meta.ip);
      const hash = await refuseWhenOverloaded(() => hasher.hash(next));
      await db
        .update(passwordCredentials)
        .set({ hash, updatedAt: new Date() })
        .where(eq(passwordCredentials.userId, user.id));
      await notify.passwordChanged(user);
      const signedOut = input.signOutOthers
        ? await sessions.revokeAllForUser(user.id, current.sessionId)
        : 0;
      audit("user.password_changed", {
        userId: user.id,
        ...meta,
        detail: { signedOutOthers: signedOut },
      });
      return { signedOut };
    },

    async logout(sessionId: string, userId: string, meta: ClientMeta): Promise<void> {
      await sessions.revoke(sessionId);
      audit("user.logout", { userId, ...meta });
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
