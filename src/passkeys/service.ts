// Passkeys (WebAuthn credentials): enrolment, passwordless sign-in with
// discoverable credentials, and proof of a passkey on an existing session
// (step-up). The ceremonies are @simplewebauthn/server's; what this module
// owns is the state around them. Its invariant: a failed or doubtful
// verification never signs anyone in and never changes a stored passkey.
// Every challenge is made here, kept server-side behind a handle the browser
// holds in a cookie, expires within minutes and is deleted as it is used,
// so it works once; a sign counter only moves forward; a passkey answers
// only for the account it was enrolled on.
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { and, asc, count, eq, isNotNull } from "drizzle-orm";
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import type { Audit } from "../accounts/audit.ts";
import { clientKey, takePoint } from "../accounts/login-throttle.ts";
import type { ClientMeta, SignedIn } from "../accounts/service.ts";
import type { Database } from "../db/client.ts";
import {
  recoveryCodes,
  sessions as sessionRows,
  totpFactors,
  users,
  webauthnCredentials,
} from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import { type Clock, systemClock } from "../kernel/clock.ts";
import type { Mailer } from "../mail/mailer.ts";
import { passkeyAmr, provenRecently, RECENT_PROOF_WINDOW_MS } from "../sessions/amr.ts";
import type { SessionService } from "../sessions/service.ts";
import { challengeStore } from "./challenges.ts";
import { type AssertionJson, type AttestationJson, checkName } from "./input.ts";
import type { RelyingParty } from "./settings.ts";

const CEREMONY_TIMEOUT_MS = 5 * 60 * 1000;
const MAX_PASSKEYS_PER_USER = 20;

export type PasskeySummary = {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** singleDevice, or multiDevice for a passkey synced across devices. */
  deviceType: string;
  backedUp: boolean;
  transports: string[];
};

/** A passkey verified for an account that does not exist yet (an invitation's), to be stored with it. */
export type NewPasskey = Omit<
  typeof webauthnCredentials.$inferInsert,
  "userId" | "name" | "createdAt" | "lastUsedAt"
> & { id: string; deviceType: string; backedUp: boolean };

/** The browser session acting (enrolment, removal, step-up); factorTimes: what it proved since. */
export type ActingSession = {
  id: string;
  authenticatedAt: Date;
  factorTimes?: Record<string, number>;
};

export type PasskeyService = ReturnType<typeof createPasskeyService>;

type Row = typeof webauthnCredentials.$inferSelect;

export function passkeySummary(row: Row): PasskeySummary {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    deviceType: row.deviceType,
    backedUp: row.backedUp,
    transports: row.transports,
  };
}

const refused = (message: string) => new ServiceError("invalid_request", message);

/** The library's reason, as the one 400 a caller gets: never a 500 for what a client sent. */
function notVerified(error: unknown): ServiceError {
  const reason = error instanceof Error ? error.message : String(error);
  return refused(`The passkey could not be verified: ${reason.slice(0, 200)}`);
}

/** A unique violation (two registrations of one credential at once), through either driver. */
function isUniqueViolation(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as never)
    if (e.code === "23505") return true;
  return false;
}

export function createPasskeyService(deps: {
  db: Database;
  party: RelyingParty;
  sessions: SessionService;
  audit: Audit;
  mailer: Pick<Mailer, "post">;
  /** The account page's address, for the notice mails. */
  accountLink: string;
  /**
   * Ceremonies started per client address (IPv6 per /64): each stores a
   * challenge, and a sign-in's options need no account.
   */
  ceremoniesPerIp: RateLimiterAbstract;
  clock?: Clock;
}) {
  const { db, party, audit } = deps;
  const clock = deps.clock ?? systemClock;
  const now = () => new Date(clock.now());
  const challenges = challengeStore(db, clock, CEREMONY_TIMEOUT_MS);
  const encoder = new TextEncoder();

  async function countCeremony(ip: string | null): Promise<void> {
    const point = await takePoint(deps.ceremoniesPerIp, clientKey(ip));
    if (point !== true)
      throw new ServiceError(
        "rate_limited",
        `Too many passkey requests from this address: try again in ${point} s.`,
        point,
      );
  }

  function requireRecentSignIn(session: ActingSession): void {
    if (provenRecently(session, clock.now())) return;
    throw new ServiceError(
      "reauthentication_required",
      `Sign in again (or prove a second factor) to add or remove a passkey: this needs a proof within the last ${RECENT_PROOF_WINDOW_MS / 60_000} minutes.`,
    );
  }

  async function listRows(userId: string): Promise<Row[]> {
    return db
      .select()
      .from(webauthnCredentials)
      .where(eq(webauthnCredentials.userId, userId))
      .orderBy(asc(webauthnCredentials.createdAt));
  }

  async function findByCredentialId(credentialId: string) {
    const [row] = await db
      .select({ passkey: webauthnCredentials, user: users })
      .from(webauthnCredentials)
      .innerJoin(users, eq(users.id, webauthnCredentials.userId))
      .where(eq(webauthnCredentials.credentialId, credentialId))
      .limit(1);
    return row;
  }

  /**
   * Checks an assertion against a stored passkey and moves its counter,
   * only forward and only from the value it was checked against (a
   * concurrent use of the same passkey loses). Throws a 400 otherwise.
   */
  async function verifyAssertion(
    passkey: Row,
    response: AssertionJson,
    expectedChallenge: string,
    meta: { ip: string | null; userAgent?: string | null },
  ): Promise<Row> {
    let info: Awaited<ReturnType<typeof verifyAuthenticationResponse>>["authenticationInfo"];
    try {
      const result = await verifyAuthenticationResponse({
        response: response as never,
        expectedChallenge,
        expectedOrigin: party.origins,
        expectedRPID: party.id,
        credential: {
          id: passkey.credentialId,
          publicKey: Buffer.from(passkey.publicKey, "base64url"),
          counter: passkey.counter,
          transports: passkey.transports as never,
        },
        requireUserVerification: true,
      });
      if (!result.verified) throw new Error("the signature does not verify");
      info = result.authenticationInfo;
    } catch (error) {
      audit("passkey.failed", {
        userId: passkey.userId,
        ip: meta.ip,
        userAgent: meta.userAgent ?? null,
        detail: { passkeyId: passkey.id, reason: (error as Error).message?.slice(0, 200) },
      });
      throw notVerified(error);
    }
    const [updated] = await db
      .update(webauthnCredentials)
      .set({
        counter: info.newCounter,
        backedUp: info.credentialBackedUp,
        deviceType: info.credentialDeviceType,
        lastUsedAt: now(),
      })
      .where(
        and(
          eq(webauthnCredentials.id, passkey.id),
          eq(webauthnCredentials.counter, passkey.counter),
        ),
      )
      .returning();
    if (!updated) throw refused("The passkey could not be verified: it was used at the same time.");
    return updated;
  }

  /** The user handle an assertion names (base64url of our user id), when it names one. */
  function userHandleOf(response: AssertionJson): string | undefined {
    const handle = response.response.userHandle;
    return handle ? Buffer.from(handle, "base64url").toString("utf8") : undefined;
  }

  /** Recovery codes stand in for a factor: with the last passkey and no app, they go too. */
  async function dropOrphanRecoveryCodes(userId: string): Promise<void> {
    const [left] = await db
      .select({ n: count() })
      .from(webauthnCredentials)
      .where(eq(webauthnCredentials.userId, userId));
    const [app] = await db
      .select({ n: count() })
      .from(totpFactors)
      .where(and(eq(totpFactors.userId, userId), isNotNull(totpFactors.confirmedAt)));
    if ((left?.n ?? 0) === 0 && (app?.n ?? 0) === 0)
      await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
  }

  /** Verifies a registration's answer against its challenge: the passkey to store, or a 400. */
  async function verifyAttestation(
    response: AttestationJson,
    expectedChallenge: string,
  ): Promise<NewPasskey> {
    let info: NonNullable<
      Awaited<ReturnType<typeof verifyRegistrationResponse>>["registrationInfo"]
    >;
    try {
      const result = await verifyRegistrationResponse({
        response: response as never,
        expectedChallenge,
        expectedOrigin: party.origins,
        expectedRPID: party.id,
        requireUserVerification: true,
      });
      if (!result.verified || !result.registrationInfo)
        throw new Error("the attestation does not verify");
      info = result.registrationInfo;
    } catch (error) {
      throw notVerified(error);
    }
    const { credential } = info;
    if (credential.id !== response.id)
      throw refused("The passkey could not be verified: its id is not the one it was made with.");
    return {
      id: crypto.randomUUID(),
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey).toString("base64url"),
      counter: credential.counter,
      transports: credential.transports ?? [],
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      aaguid: info.aaguid,
    };
  }

  function notify(kind: "passkey-added" | "passkey-removed", email: string, name: string) {
    deps.mailer.post(kind, email, { email, passkeyName: name, accountLink: deps.accountLink });
  }

  return {
    party,
    requireRecentSignIn,

    async list(userId: string): Promise<PasskeySummary[]> {
      return (await listRows(userId)).map(passkeySummary);
    },

    /** Options for navigator.credentials.create(), and the handle for the browser's cookie. */
    async registrationOptions(
      user: { id: string; email: string; name: string },
      session: ActingSession,
      meta: ClientMeta,
    ) {
      requireRecentSignIn(session);
      await countCeremony(meta.ip);
      const existing = await listRows(user.id);
      if (existing.length >= MAX_PASSKEYS_PER_USER)
        throw refused(`An account can have at most ${MAX_PASSKEYS_PER_USER} passkeys.`);
      const options = await generateRegistrationOptions({
        rpName: party.name,
        rpID: party.id,
        userName: user.email,
        userDisplayName: user.name || user.email,
        // Stable per account, so an authenticator replaces its passkey for it rather than adding one.
        userID: encoder.encode(user.id),
        attestationType: "none",
        excludeCredentials: existing.map((row) => ({
          id: row.credentialId,
          transports: row.transports,
        })),
        authenticatorSelection: { residentKey: "required", userVerification: "required" },
        timeout: CEREMONY_TIMEOUT_MS,
      });
      const handle = await challenges.issue("register", options.challenge, {
        userId: user.id,
        sessionId: session.id,
      });
      return { handle, options };
    },

    /**
     * Enrols a passkey: the challenge must be this session's, the sign-in
     * recent, the address verified (a first proof of the address removes
     * what was made before it; passkeys are simply not made before it).
     */
    async register(input: {
      user: { id: string; email: string };
      session: ActingSession;
      handle: string | undefined;
      response: AttestationJson;
      name: string;
      meta: ClientMeta;
    }): Promise<PasskeySummary> {
      const { user, session } = input;
      const name = checkName(input.name);
      requireRecentSignIn(session);
      const challenge = await challenges.take(input.handle, "register", {
        userId: user.id,
        sessionId: session.id,
      });
      const made = await verifyAttestation(input.response, challenge);
      try {
        const row = await db.transaction(async (tx) => {
          // Behind the user's row, as a first proof of the address takes it.
          const [owner] = await tx
            .select({ emailVerified: users.emailVerified, disabledAt: users.disabledAt })
            .from(users)
            .where(eq(users.id, user.id))
            .for("share");
          if (!owner || owner.disabledAt)
            throw new ServiceError("account_disabled", "This account is disabled.");
          if (!owner.emailVerified)
            throw new ServiceError(
              "email_not_verified",
              "Confirm your email address before adding a passkey.",
            );
          const live = await tx
            .select({ id: sessionRows.id })
            .from(sessionRows)
            .where(eq(sessionRows.id, session.id));
          if (live.length === 0) throw new ServiceError("unauthenticated", "Sign in to continue.");
          const [taken] = await tx
            .select({ n: count() })
            .from(webauthnCredentials)
            .where(eq(webauthnCredentials.credentialId, made.credentialId));
          if ((taken?.n ?? 0) > 0) throw refused("This passkey is already registered.");
          const [inserted] = await tx
            .insert(webauthnCredentials)
            .values({ ...made, userId: user.id, name })
            .returning();
          return inserted as Row;
        });
        audit("passkey.added", {
          userId: user.id,
          ...input.meta,
          detail: { passkeyId: row.id, name, deviceType: row.deviceType, backedUp: row.backedUp },
        });
        // The session just proved the new passkey (as a first TOTP code does an
        // app); the user now has a second factor, which cached sessions learn.
        await deps.sessions.recordFactor(session.id, passkeyAmr(row));
        await deps.sessions.refreshUser(user.id);
        notify("passkey-added", user.email, name);
        return passkeySummary(row);
      } catch (error) {
        if (isUniqueViolation(error)) throw refused("This passkey is already registered.");
        throw error;
      }
    },

    /**
     * An invitation accepted with a passkey: the options for the account it
     * will create (its id is decided now, as the passkey names it), bound to
     * the invitation rather than a session.
     */
    async invitationOptions(
      invitee: { userId: string; invitationId: string; email: string; name: string },
      meta: ClientMeta,
    ) {
      await countCeremony(meta.ip);
      const options = await generateRegistrationOptions({
        rpName: party.name,
        rpID: party.id,
        userName: invitee.email,
        userDisplayName: invitee.name || invitee.email,
        userID: encoder.encode(invitee.userId),
        attestationType: "none",
        authenticatorSelection: { residentKey: "required", userVerification: "required" },
        timeout: CEREMONY_TIMEOUT_MS,
      });
      const handle = await challenges.issue("register", options.challenge, {
        sessionId: `invitation:${invitee.invitationId}`,
      });
      return { handle, options };
    },

    /** The invitation's passkey, verified on its challenge: stored by the caller with the account. */
    async verifyInvitationPasskey(
      invitationId: string,
      handle: string | undefined,
      response: AttestationJson,
    ): Promise<NewPasskey> {
      const challenge = await challenges.take(handle, "register", {
        sessionId: `invitation:${invitationId}`,
      });
      const made = await verifyAttestation(response, challenge);
      const [taken] = await db
        .select({ n: count() })
        .from(webauthnCredentials)
        .where(eq(webauthnCredentials.credentialId, made.credentialId));
      if ((taken?.n ?? 0) > 0) throw refused("This passkey is already registered.");
      return made;
    },

    /** Options for a passwordless sign-in: any discoverable passkey of this site. */
    async signInOptions(meta: ClientMeta) {
      await countCeremony(meta.ip);
      const options = await generateAuthenticationOptions({
        rpID: party.id,
        userVerification: "required",
        timeout: CEREMONY_TIMEOUT_MS,
      });
      const handle = await challenges.issue("authenticate", options.challenge, {});
      return { handle, options };
    },

    /** Signs in with a passkey alone: a new session with method `passkey`. */
    async signIn(input: {
      handle: string | undefined;
      response: AssertionJson;
      meta: ClientMeta;
    }): Promise<SignedIn> {
      const challenge = await challenges.take(input.handle, "authenticate", {});
      const found = await findByCredentialId(input.response.id);
      if (!found) throw refused("This passkey is not registered here: it may have been removed.");
      const { passkey, user } = found;
      const handle = userHandleOf(input.response);
      if (handle !== undefined && handle !== passkey.userId)
        throw refused("This passkey does not belong to the account it names.");
      if (user.disabledAt) throw new ServiceError("account_disabled", "This account is disabled.");
      const used = await verifyAssertion(passkey, input.response, challenge, input.meta);
      const created = await deps.sessions.create(user.id, "passkey", {
        ...input.meta,
        amr: passkeyAmr(used),
      });
      audit("user.login", {
        userId: user.id,
        ...input.meta,
        detail: { method: "passkey", passkeyId: passkey.id },
      });
      const sessionUser = {
        id: user.id,
        email: user.email,
        emailVerified: user.emailVerified,
        name: user.name,
        roles: user.roles,
      };
      return { user: sessionUser, token: created.token, sessionId: created.session.id };
    },

    // step-up: the options the step-up page asks for, to prove a passkey on
    // an existing session; the browser keeps the handle in its cookie.
    async stepUpOptions(userId: string, session: ActingSession, meta: ClientMeta) {
      await countCeremony(meta.ip);
      const rows = await listRows(userId);
      if (rows.length === 0) throw refused("This account has no passkey.");
      const options = await generateAuthenticationOptions({
        rpID: party.id,
        userVerification: "required",
        allowCredentials: rows.map((row) => ({ id: row.credentialId, transports: row.transports })),
        timeout: CEREMONY_TIMEOUT_MS,
      });
      const handle = await challenges.issue("step-up", options.challenge, {
        userId,
        sessionId: session.id,
      });
      return { handle, options };
    },

    // step-up: proves one of `userId`'s passkeys as a second factor on the
    // session that asked for the options (stepUpOptions). Returns the
    // passkey used (its deviceType and backedUp say hwk or swk); throws a
    // 400 for anything else, the passkey of another account included.
    async verifyForUser(
      userId: string,
      response: AssertionJson,
      ceremony: { handle: string | undefined; session: ActingSession; meta: ClientMeta },
    ): Promise<PasskeySummary> {
      const challenge = await challenges.take(ceremony.handle, "step-up", {
        userId,
        sessionId: ceremony.session.id,
      });
      const found = await findByCredentialId(response.id);
      if (!found || found.passkey.userId !== userId)
        throw refused("This passkey is not one of this account's.");
      const handle = userHandleOf(response);
      if (handle !== undefined && handle !== userId)
        throw refused("This passkey does not belong to the account it names.");
      return passkeySummary(
        await verifyAssertion(found.passkey, response, challenge, ceremony.meta),
      );
    },

    async rename(userId: string, id: string, newName: string): Promise<PasskeySummary> {
      const name = checkName(newName);
      const [row] = await db
        .update(webauthnCredentials)
        .set({ name })
        .where(and(eq(webauthnCredentials.id, id), eq(webauthnCredentials.userId, userId)))
        .returning();
      if (!row) throw new ServiceError("not_found", "No such passkey.");
      return passkeySummary(row);
    },

    async remove(input: {
      user: { id: string; email: string };
      id: string;
      session: ActingSession;
      meta: ClientMeta;
    }): Promise<void> {
      requireRecentSignIn(input.session);
      const [row] = await db
        .delete(webauthnCredentials)
        .where(
          and(eq(webauthnCredentials.id, input.id), eq(webauthnCredentials.userId, input.user.id)),
        )
        .returning();
      if (!row) throw new ServiceError("not_found", "No such passkey.");
      await dropOrphanRecoveryCodes(input.user.id);
      await deps.sessions.refreshUser(input.user.id);
      audit("passkey.removed", {
        userId: input.user.id,
        ...input.meta,
        detail: { passkeyId: row.id, name: row.name },
      });
      notify("passkey-removed", input.user.email, row.name);
    },

    /** Removes challenges past their expiry (also done as new ones are issued). */
    sweep: () => challenges.sweep(),
  };
}
