// Second factors of an account: an authenticator app (TOTP) and recovery
// codes; passkeys add their own kind beside these. Enrolling, removing and
// regenerating need a proof within the last five minutes, are audited and
// told by mail. Proving a factor is limited per account like passwords, and
// a code that was accepted once is never accepted again.
// Invariant: a factor is proven only by a code checked here; a wrong,
// replayed or throttled code changes nothing stored but the throttle.
import { and, asc, count, eq, isNotNull, isNull, lt, or } from "drizzle-orm";
import { renderSVG } from "uqr";
import type { Audit, AuditEventType } from "../accounts/audit.ts";
import type { LoginThrottle } from "../accounts/login-throttle.ts";
import type { Database } from "../db/client.ts";
import { recoveryCodes, totpFactors, webauthnCredentials } from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import type { Clock } from "../kernel/clock.ts";
import { MFA, passkeyAmr, provenRecently, RECENT_PROOF_WINDOW_MS } from "../sessions/amr.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionRecord } from "../sessions/store.ts";
import type { PendingSignIns } from "./pending.ts";
import {
  generateRecoveryCodes,
  hashRecoveryCode,
  normalizeRecoveryCode,
  RECOVERY_CODE_COUNT,
} from "./recovery-codes.ts";
import { matchingStep, newTotpSecret, normalizeTotpCode, totpUri } from "./totp.ts";

/** What changed on an account's second factors, for the notice mail. */
export type FactorChange =
  | "totpAdded"
  | "totpRemoved"
  | "recoveryCodes"
  | "operatorReset"
  | "adminRemovedTotp"
  | "adminRemovedPasskey"
  | "adminRemovedRecoveryCodes";

/** The kinds a person proves with a code on the step-up page. */
export type FactorKind = "totp" | "recovery";

/** Every kind a second factor is proven with (metrics, audit): the codes, and passkeys. */
export type ProvenKind = FactorKind | "passkey";

/** What proving each kind adds to a session's amr (RFC 8176: a recovery code is a one-time password). */
export const AMR_OF: Record<FactorKind, string[]> = {
  totp: ["otp", MFA],
  recovery: ["otp", MFA],
};

export type FactorSummary = {
  /** A confirmed authenticator app, and since when. */
  totp: { since: string } | null;
  /** Unused recovery codes left. */
  recoveryCodesLeft: number;
  /** Passkeys enrolled (each is a second factor after a password, and a sign-in of its own). */
  passkeys: number;
  /** Some factor can be proven: sign-ins ask for it. */
  enrolled: boolean;
};

export type TotpSetup = { secret: string; uri: string; qrSvg: string };

/** One factor an operator can remove: the app, the recovery codes, or one passkey. */
export type FactorId =
  | { kind: "totp" }
  | { kind: "recovery-codes" }
  | { kind: "passkey"; id: string };

/** "totp", "recovery-codes" or "passkey:<id>" as typed in a form or on the command line. */
export function parseFactorId(value: unknown): FactorId {
  if (value === "totp") return { kind: "totp" };
  if (value === "recovery-codes") return { kind: "recovery-codes" };
  if (typeof value === "string" && /^passkey:[0-9a-f-]{36}$/.test(value))
    return { kind: "passkey", id: value.slice("passkey:".length) };
  throw new ServiceError(
    "invalid_request",
    "factor must be totp, recovery-codes or passkey:<id> (the ids are on the user's page).",
  );
}

/** A user's factors as an operator sees them: the app, each passkey by name, the codes left. */
export type FactorOverview = {
  totp: { since: string } | null;
  recoveryCodesLeft: number;
  passkeys: {
    id: string;
    name: string;
    createdAt: string;
    lastUsedAt: string | null;
    backedUp: boolean;
  }[];
};

/** Who removes a factor for the user: an admin (their id, address, browser) or the CLI. */
type Actor = { actorId: string; ip?: string | null; userAgent?: string | null };

/** The client a proof or change came from (the audit trail records both). */
type Meta = { ip: string | null; userAgent?: string | null };
type Vault = { seal(text: string): Promise<string>; open(sealed: string): Promise<string | null> };
type Account = { id: string; email: string };

export type SecondFactors = ReturnType<typeof createSecondFactors>;

export function createSecondFactors(deps: {
  db: Database;
  vault: Vault;
  clock: Clock;
  throttle: LoginThrottle;
  audit: Audit;
  sessions: Pick<SessionService, "recordFactor" | "refreshUser">;
  pending: PendingSignIns;
  /** Tells the account's address what changed (`mail.change.<change>` says it in their language). */
  notify: (account: Account, change: FactorChange, values?: { name: string }) => void;
  /** The issuer shown in authenticator apps (SITE_NAME). */
  issuer: string;
  /**
   * Passkeys work here (a relying party is configured): only then does a
   * passkey count as a factor a sign-in can ask for. Without one a
   * passkey-only account is not sent to a step-up it cannot pass.
   */
  passkeysUsable?: boolean;
  /** gatehouse_second_factor_total */
  onResult?: (kind: ProvenKind, result: "success" | "failure" | "rate_limited") => void;
}) {
  const { db, vault, clock, throttle, audit, sessions } = deps;
  /** An account's own second-factor event, with where it came from. */
  const auditOf = (
    type: AuditEventType,
    account: Account,
    meta: Meta,
    detail?: Record<string, unknown>,
  ) =>
    audit(type, {
      userId: account.id,
      ip: meta.ip,
      userAgent: meta.userAgent ?? null,
      ...(detail ? { detail } : {}),
    });
  const now = () => new Date(clock.now());

  function setupOf(secret: string, account: Account): TotpSetup {
    const uri = totpUri(secret, deps.issuer, account.email);
    return { secret, uri, qrSvg: renderSVG(uri, { pixelSize: 4 }) };
  }

  /** Changing factors needs a recent proof: a stolen session alone cannot take over the account. */
  function requireRecentProof(session: SessionRecord): void {
    if (provenRecently(session, clock.now())) return;
    throw new ServiceError(
      "reauthentication_required",
      `Sign in again (or prove a factor) first: changing second factors needs a proof within the last ${RECENT_PROOF_WINDOW_MS / 60_000} minutes.`,
    );
  }

  async function totpRow(userId: string) {
    const [row] = await db.select().from(totpFactors).where(eq(totpFactors.userId, userId));
    return row;
  }

  async function openSecret(sealed: string): Promise<string> {
    const secret = await vault.open(sealed);
    // A retired encryption key: the factor cannot be checked; the operator resets it.
    if (!secret) throw new ServiceError("unavailable", "This authenticator cannot be checked.");
    return secret;
  }

  async function passkeyCount(userId: string): Promise<number> {
    if (deps.passkeysUsable === false) return 0;
    const [row] = await db
      .select({ n: count() })
      .from(webauthnCredentials)
      .where(eq(webauthnCredentials.userId, userId));
    return row?.n ?? 0;
  }

  async function summary(userId: string): Promise<FactorSummary> {
    const row = await totpRow(userId);
    const codes = await db
      .select({ hash: recoveryCodes.hash })
      .from(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
    const totp = row?.confirmedAt ? { since: row.confirmedAt.toISOString() } : null;
    const passkeys = await passkeyCount(userId);
    return {
      totp,
      recoveryCodesLeft: codes.length,
      passkeys,
      enrolled: totp !== null || passkeys > 0,
    };
  }

  async function replaceRecoveryCodes(userId: string): Promise<string[]> {
    const codes = generateRecoveryCodes();
    await db.transaction(async (tx) => {
      await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
      await tx
        .insert(recoveryCodes)
        .values(
          codes.map((code) => ({ userId, hash: hashRecoveryCode(code.replaceAll("-", "")) })),
        );
    });
    return codes;
  }

  /** Checks a code of this kind against the account's factor, using it up; false when it is not right. */
  async function check(userId: string, kind: FactorKind, input: unknown): Promise<boolean> {
    if (kind === "recovery") {
      const code = normalizeRecoveryCode(input);
      if (!code) return false;
      const used = await db
        .update(recoveryCodes)
        .set({ usedAt: now() })
        .where(
          and(
            eq(recoveryCodes.userId, userId),
            eq(recoveryCodes.hash, hashRecoveryCode(code)),
            isNull(recoveryCodes.usedAt),
          ),
        )
        .returning({ hash: recoveryCodes.hash });
      return used.length > 0;
    }
    const code = normalizeTotpCode(input);
    const row = await totpRow(userId);
    if (!code || !row?.confirmedAt) return false;
    const step = matchingStep(await openSecret(row.secret), code, clock.now());
    if (step === null) return false;
    // Only a later step than the last accepted one: a code is never accepted twice.
    const accepted = await db
      .update(totpFactors)
      .set({ lastStep: step })
      .where(
        and(
          eq(totpFactors.userId, userId),
          isNotNull(totpFactors.confirmedAt),
          or(isNull(totpFactors.lastStep), lt(totpFactors.lastStep, step)),
        ),
      )
      .returning({ userId: totpFactors.userId });
    return accepted.length > 0;
  }

  return {
    summary,
    requireRecentProof,

    /** True when sign-ins on this account must prove a second factor: an app, or a passkey. */
    async enrolled(userId: string): Promise<boolean> {
      return (await totpRow(userId))?.confirmedAt != null || (await passkeyCount(userId)) > 0;
    },

    /**
     * Proves a passkey as a second factor: `prove` runs the assertion (the
     * passkey service's verifyForUser) and names the passkey it checked.
     * Counted and audited like a code; the amr it adds, or its ServiceError.
     */
    async provePasskey(
      account: Account,
      prove: () => Promise<{ id: string; deviceType: string; backedUp: boolean }>,
      meta: Meta,
    ): Promise<string[]> {
      let passkey: { id: string; deviceType: string; backedUp: boolean };
      try {
        passkey = await prove();
      } catch (error) {
        deps.onResult?.("passkey", "failure");
        throw error;
      }
      deps.onResult?.("passkey", "success");
      auditOf("mfa.verified", account, meta, { kind: "passkey", passkeyId: passkey.id });
      return passkeyAmr(passkey);
    },

    /**
     * Proves a factor: the amr values it adds, or a ServiceError (invalid_code,
     * rate_limited). Counted per account like passwords.
     */
    async verify(account: Account, kind: FactorKind, code: unknown, meta: Meta): Promise<string[]> {
      const key = `mfa:${account.id}`;
      const allowed = await throttle.attempt(key, meta.ip);
      if (allowed !== true) {
        deps.onResult?.(kind, "rate_limited");
        throw new ServiceError("rate_limited", "Too many wrong codes. Try again later.", allowed);
      }
      if (!(await check(account.id, kind, code))) {
        deps.onResult?.(kind, "failure");
        auditOf("mfa.failed", account, meta, { kind });
        throw new ServiceError(
          "invalid_code",
          kind === "recovery"
            ? "That recovery code is not valid or was already used."
            : "That code is not right, or was already used. Wait for the next code and try again.",
        );
      }
      await throttle.succeeded(key, meta.ip);
      deps.onResult?.(kind, "success");
      auditOf("mfa.verified", account, meta, { kind });
      return AMR_OF[kind];
    },

    /** Starts (or starts again) setting up an authenticator app: the secret, its URI and QR code. */
    async startTotp(account: Account, session: SessionRecord): Promise<TotpSetup> {
      requireRecentProof(session);
      const existing = await totpRow(account.id);
      if (existing?.confirmedAt)
        throw new ServiceError(
          "conflict",
          "An authenticator app is already set up: remove it first to set up another.",
        );
      const secret = newTotpSecret();
      const sealed = await vault.seal(secret);
      await db
        .insert(totpFactors)
        .values({ userId: account.id, secret: sealed })
        .onConflictDoUpdate({
          target: totpFactors.userId,
          set: { secret: sealed, createdAt: now(), lastStep: null },
          setWhere: isNull(totpFactors.confirmedAt),
        });
      return setupOf(secret, account);
    },

    /** The set-up in progress (to show the QR code again), or null. */
    async pendingTotp(account: Account): Promise<TotpSetup | null> {
      const row = await totpRow(account.id);
      if (!row || row.confirmedAt) return null;
      return setupOf(await openSecret(row.secret), account);
    },

    /**
     * The first code confirms the app. The session proved it, so it gains
     * otp and mfa; the first recovery codes come with it (shown once).
     */
    async confirmTotp(
      account: Account,
      session: SessionRecord,
      input: unknown,
      meta: Meta,
    ): Promise<{ recoveryCodes: string[] | null }> {
      requireRecentProof(session);
      const row = await totpRow(account.id);
      if (!row || row.confirmedAt)
        throw new ServiceError("invalid_request", "No authenticator app is being set up.");
      const key = `mfa:${account.id}`;
      const allowed = await throttle.attempt(key, meta.ip);
      if (allowed !== true)
        throw new ServiceError("rate_limited", "Too many wrong codes. Try again later.", allowed);
      const code = normalizeTotpCode(input);
      const step = code ? matchingStep(await openSecret(row.secret), code, clock.now()) : null;
      const confirmed =
        step === null
          ? []
          : await db
              .update(totpFactors)
              .set({ confirmedAt: now(), lastStep: step })
              .where(and(eq(totpFactors.userId, account.id), isNull(totpFactors.confirmedAt)))
              .returning({ userId: totpFactors.userId });
      if (confirmed.length === 0) {
        deps.onResult?.("totp", "failure");
        throw new ServiceError(
          "invalid_code",
          "That code is not right. Check the app's clock and enter the code it shows now.",
        );
      }
      await throttle.succeeded(key, meta.ip);
      deps.onResult?.("totp", "success");
      const left = (await summary(account.id)).recoveryCodesLeft;
      const codes = left === 0 ? await replaceRecoveryCodes(account.id) : null;
      await sessions.recordFactor(session.id, AMR_OF.totp);
      await sessions.refreshUser(account.id);
      auditOf("mfa.totp_enabled", account, meta);
      deps.notify(account, "totpAdded");
      return { recoveryCodes: codes };
    },

    /** Removes the authenticator app (and, with no passkey left either, the recovery codes). */
    async removeTotp(account: Account, session: SessionRecord, meta: Meta): Promise<void> {
      requireRecentProof(session);
      const removed = await db
        .delete(totpFactors)
        .where(eq(totpFactors.userId, account.id))
        .returning({ confirmedAt: totpFactors.confirmedAt });
      if (!removed[0]?.confirmedAt)
        throw new ServiceError("not_found", "No authenticator app is set up.");
      // Recovery codes stand in for a factor: they go with the last one.
      if ((await passkeyCount(account.id)) === 0)
        await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, account.id));
      await sessions.refreshUser(account.id);
      auditOf("mfa.totp_removed", account, meta);
      deps.notify(account, "totpRemoved");
    },

    /** Ten new recovery codes (the old ones stop working), shown once. */
    async regenerateRecoveryCodes(
      account: Account,
      session: SessionRecord,
      meta: Meta,
    ): Promise<string[]> {
      requireRecentProof(session);
      if (!(await summary(account.id)).enrolled)
        throw new ServiceError(
          "invalid_request",
          "Set up an authenticator app or a passkey first: recovery codes stand in for it.",
        );
      const codes = await replaceRecoveryCodes(account.id);
      auditOf("mfa.recovery_codes_generated", account, meta, { count: RECOVERY_CODE_COUNT });
      deps.notify(account, "recoveryCodes");
      return codes;
    },

    /** The factors an operator sees on the user's page and in `factors list`. */
    async overview(userId: string): Promise<FactorOverview> {
      const { totp, recoveryCodesLeft } = await summary(userId);
      const rows = await db
        .select()
        .from(webauthnCredentials)
        .where(eq(webauthnCredentials.userId, userId))
        .orderBy(asc(webauthnCredentials.createdAt));
      const passkeys = rows.map((row) => ({
        id: row.id,
        name: row.name,
        createdAt: row.createdAt.toISOString(),
        lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
        backedUp: row.backedUp,
      }));
      return { totp, recoveryCodesLeft, passkeys };
    },

    /**
     * An operator removes one factor (after checking who asks, out of band):
     * audited with the actor, the user told by mail; the user's half
     * sign-ins end and cached sessions learn what is left. With no factor
     * left, the recovery codes go too.
     */
    async removeFactor(account: Account, factor: FactorId, actor: Actor): Promise<string> {
      let what: string;
      let change: { kind: FactorChange; values?: { name: string } };
      if (factor.kind === "passkey") {
        const [row] = await db
          .delete(webauthnCredentials)
          .where(
            and(eq(webauthnCredentials.id, factor.id), eq(webauthnCredentials.userId, account.id)),
          )
          .returning({ name: webauthnCredentials.name });
        if (!row) throw new ServiceError("not_found", "This user has no such passkey.");
        what = `the passkey “${row.name}”`;
        change = { kind: "adminRemovedPasskey", values: { name: row.name } };
      } else if (factor.kind === "totp") {
        const removed = await db
          .delete(totpFactors)
          .where(and(eq(totpFactors.userId, account.id), isNotNull(totpFactors.confirmedAt)))
          .returning({ userId: totpFactors.userId });
        if (removed.length === 0)
          throw new ServiceError("not_found", "This user has no authenticator app set up.");
        what = "the authenticator app";
        change = { kind: "adminRemovedTotp" };
      } else {
        const removed = await db
          .delete(recoveryCodes)
          .where(eq(recoveryCodes.userId, account.id))
          .returning({ hash: recoveryCodes.hash });
        if (removed.length === 0)
          throw new ServiceError("not_found", "This user has no recovery codes.");
        what = "the recovery codes";
        change = { kind: "adminRemovedRecoveryCodes" };
      }
      if (factor.kind !== "recovery-codes" && !(await summary(account.id)).enrolled)
        await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, account.id));
      await deps.pending.dropForUser(account.id);
      await sessions.refreshUser(account.id);
      audit("mfa.removed", {
        userId: account.id,
        ...actor,
        detail: {
          kind: factor.kind,
          ...(factor.kind === "passkey" ? { passkeyId: factor.id } : {}),
        },
      });
      deps.notify(account, change.kind, change.values);
      return what;
    },

    /**
     * Factors were removed elsewhere (the operator's `passkeys reset`): half
     * sign-ins waiting for them end, recovery codes go with the last factor,
     * and cached sessions learn what is left.
     */
    async factorsRemoved(userId: string): Promise<void> {
      if (!(await summary(userId)).enrolled)
        await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
      await deps.pending.dropForUser(userId);
      await sessions.refreshUser(userId);
    },

    /** The operator's reset (after checking who asks, out of band): every factor and half sign-in goes. */
    async reset(account: Account): Promise<{ totp: boolean; recoveryCodes: number }> {
      const totp = await db
        .delete(totpFactors)
        .where(eq(totpFactors.userId, account.id))
        .returning({ userId: totpFactors.userId });
      const codes = await db
        .delete(recoveryCodes)
        .where(eq(recoveryCodes.userId, account.id))
        .returning({ hash: recoveryCodes.hash });
      await deps.pending.dropForUser(account.id);
      await sessions.refreshUser(account.id);
      audit("mfa.reset", { userId: account.id, detail: { by: "operator" } });
      deps.notify(account, "operatorReset");
      return { totp: totp.length > 0, recoveryCodes: codes.length };
    },
  };
}
