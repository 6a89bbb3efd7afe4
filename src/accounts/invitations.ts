// Invitations: an admin invites an address, optionally with roles and an
// expiry (INVITATION_TTL, 7 days by default); the address gets a mail with a
// single-use link. The link's token is stored as its SHA-256 only; whether
// it is still good (not used, not revoked, not expired) is checked when it
// is used, not by a cleanup job. Accepting it creates the account with the
// roles, its address verified (the link was mailed there), with a password
// or a passkey (verified by passkeys/service.ts on the invitation's own
// challenge); or a provider sign-in whose verified address is the invited one creates it
// (registration-policy.ts lets it in, `providerRegistered` applies the
// invitation). Admins list, resend (a new link, a fresh expiry) and revoke.
import { and, desc, eq, gt, isNull } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { invitations, passwordCredentials, users, webauthnCredentials } from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import type { Clock } from "../kernel/clock.ts";
import { generateToken, hashToken, isWellFormedToken } from "../kernel/tokens.ts";
import type { MailValue, MessageKind } from "../mail/templates.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionUser } from "../sessions/store.ts";
import type { Actor } from "./admin.ts";
import type { Audit } from "./audit.ts";
import { type PasswordHasher, refuseWhenOverloaded } from "./passwords.ts";
import type { ClientMeta, SignedIn } from "./service.ts";

/** A passkey the passkey service verified for the account an invitation creates (stored with it). */
type InvitedPasskey = Omit<
  typeof webauthnCredentials.$inferInsert,
  "userId" | "name" | "createdAt" | "lastUsedAt"
> & { id: string };

export type InvitationStatus = "pending" | "accepted" | "revoked" | "expired";

export type InvitationSummary = {
  id: string;
  email: string;
  roles: string[];
  invitedBy: string | null;
  createdAt: string;
  expiresAt: string;
  acceptedAt: string | null;
  acceptedUserId: string | null;
  status: InvitationStatus;
};

const MAX_DAYS = 90;

export function createInvitations(deps: {
  db: Database;
  hasher: Pick<PasswordHasher, "hash">;
  sessions: Pick<SessionService, "create">;
  /** Sends a message (mail/mailer.ts), in `locale` when the recipient has none of their own. */
  mail: (
    kind: MessageKind,
    to: string,
    values: { email: string } & Record<string, MailValue>,
    locale?: string,
  ) => void;
  audit: Audit;
  clock: Clock;
  /** AUTH_PREFIX's absolute URL: the link is <linkBase>/invitation?token=... */
  linkBase: string;
  ttlSeconds: number;
  /** False in REGISTRATION_MODE=closed: nobody joins, not even invited. */
  open: boolean;
}) {
  const { db, audit } = deps;
  const now = () => new Date(deps.clock.now());

  const statusOf = (row: typeof invitations.$inferSelect): InvitationStatus =>
    row.acceptedAt
      ? "accepted"
      : row.revokedAt
        ? "revoked"
        : row.expiresAt.getTime() <= deps.clock.now()
          ? "expired"
          : "pending";

  const summary = (row: typeof invitations.$inferSelect): InvitationSummary => ({
    id: row.id,
    email: row.email,
    roles: row.roles,
    invitedBy: row.invitedBy,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    acceptedAt: row.acceptedAt?.toISOString() ?? null,
    acceptedUserId: row.acceptedUserId,
    status: statusOf(row),
  });

  /** The invitation mail, in the inviting admin's language (`locale`, their page's). */
  function send(email: string, token: string, expiresAt: Date, locale?: string): void {
    const days = Math.max(1, Math.round((expiresAt.getTime() - deps.clock.now()) / 86_400_000));
    deps.mail(
      "invitation",
      email,
      {
        email,
        link: `${deps.linkBase}/invitation?token=${token}`,
        expiresIn: (t) => t("mail.durationDays", { count: days }),
      },
      locale,
    );
  }

  /** Neither accepted nor revoked (expiry is checked where a token is used). */
  const stillOpen = (id: string) =>
    and(eq(invitations.id, id), isNull(invitations.acceptedAt), isNull(invitations.revokedAt));

  const live = (email: string) =>
    and(
      eq(invitations.email, email),
      isNull(invitations.acceptedAt),
      isNull(invitations.revokedAt),
      gt(invitations.expiresAt, now()),
    );

  /** The invitation a token names, if it can still be used; a clear refusal otherwise. */
  async function usable(token: unknown) {
    if (typeof token !== "string" || !isWellFormedToken(token))
      throw new ServiceError("invalid_token", "This invitation link is not valid.");
    const [row] = await db
      .select()
      .from(invitations)
      .where(eq(invitations.tokenHash, hashToken(token)))
      .limit(1);
    if (!row) throw new ServiceError("invalid_token", "This invitation link is not valid.");
    const status = statusOf(row);
    if (status === "accepted")
      throw new ServiceError("invalid_token", "This invitation was used already: sign in instead.");
    if (status === "revoked")
      throw new ServiceError("invalid_token", "This invitation was withdrawn.");
    if (status === "expired")
      throw new ServiceError("invalid_token", "This invitation has expired: ask for a new one.");
    if (!deps.open) throw new ServiceError("registration_closed", "Registration is closed.");
    return row;
  }

  async function accountExists(email: string): Promise<boolean> {
    const [row] = await db
      .select({ id: users.id })
      .from(users)
      .where(eq(users.email, email))
      .limit(1);
    return row !== undefined;
  }

  type Credential =
    | { kind: "password"; hash: string }
    | { kind: "passkey"; passkey: InvitedPasskey; passkeyName: string; amr: string[] };

  /** Creates the invited account with its first credential, uses the invitation up, signs in. */
  async function accept(
    invitation: typeof invitations.$inferSelect,
    name: string,
    credential: Credential,
    meta: ClientMeta,
    locale: string | undefined,
  ): Promise<SignedIn> {
    const id = credential.kind === "passkey" ? invitation.id : crypto.randomUUID();
    const created = await db.transaction(async (tx) => {
      // Single use: only one acceptance marks it.
      const claimed = await tx
        .update(invitations)
        .set({ acceptedAt: now(), acceptedUserId: id })
        .where(stillOpen(invitation.id))
        .returning({ id: invitations.id });
      if (claimed.length === 0) return null;
      const rows = await tx
        .insert(users)
        .values({
          id,
          email: invitation.email,
          emailVerified: true,
          name,
          roles: invitation.roles,
          locale: locale ?? null,
        })
        .onConflictDoNothing()
        .returning();
      const user = rows[0];
      if (!user)
        throw new ServiceError("conflict", "This address has an account already: sign in instead.");
      if (credential.kind === "password")
        await tx.insert(passwordCredentials).values({ userId: id, hash: credential.hash });
      else {
        // The same credential may answer another invitation at this moment: one wins.
        const stored = await tx
          .insert(webauthnCredentials)
          .values({ ...credential.passkey, userId: id, name: credential.passkeyName })
          .onConflictDoNothing()
          .returning({ id: webauthnCredentials.id });
        if (stored.length === 0)
          throw new ServiceError("invalid_request", "This passkey is already registered.");
      }
      return user;
    });
    if (!created)
      throw new ServiceError("invalid_token", "This invitation was used already: sign in instead.");
    const method = credential.kind;
    audit("user.registered", {
      userId: id,
      ...meta,
      detail: { method, invitationId: invitation.id },
    });
    if (credential.kind === "passkey")
      audit("passkey.added", {
        userId: id,
        ...meta,
        detail: { passkeyId: credential.passkey.id, name: credential.passkeyName },
      });
    audit("invitation.accepted", {
      userId: id,
      ...meta,
      detail: { invitationId: invitation.id, roles: invitation.roles, via: method },
    });
    const user: SessionUser = {
      id,
      email: created.email,
      emailVerified: true,
      name: created.name,
      roles: created.roles,
    };
    const session = await deps.sessions.create(id, method, {
      ...meta,
      ...(credential.kind === "passkey" ? { amr: credential.amr } : {}),
    });
    audit("user.login", { userId: id, ...meta, detail: { method } });
    return { user, token: session.token, sessionId: session.session.id };
  }

  return {
    async create(
      input: { email: string; roles: string[]; expiresInDays?: number },
      actor: Actor,
      locale?: string,
    ): Promise<InvitationSummary> {
      if (!deps.open)
        throw new ServiceError(
          "registration_closed",
          "Registration is closed: create the account with the CLI.",
        );
      const days = input.expiresInDays;
      if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > MAX_DAYS))
        throw new ServiceError("invalid_request", `The expiry must be 1 to ${MAX_DAYS} days.`);
      if (await accountExists(input.email))
        throw new ServiceError("conflict", "This address has an account already.");
      const token = generateToken();
      const expiresAt = new Date(
        deps.clock.now() + (days ? days * 86_400 : deps.ttlSeconds) * 1000,
      );
      const [row] = await db
        .insert(invitations)
        .values({
          id: crypto.randomUUID(),
          email: input.email,
          roles: input.roles,
          tokenHash: hashToken(token),
          invitedBy: actor.actorId,
          expiresAt,
        })
        .returning();
      if (!row) throw new Error("the invitation was not stored");
      send(input.email, token, expiresAt, locale);
      audit("invitation.created", {
        ...actor,
        userId: null,
        detail: { invitationId: row.id, email: input.email, roles: input.roles },
      });
      return summary(row);
    },

    async list(limit = 100): Promise<InvitationSummary[]> {
      const rows = await db
        .select()
        .from(invitations)
        .orderBy(desc(invitations.createdAt))
        .limit(limit);
      return rows.map(summary);
    },

    async get(id: string): Promise<InvitationSummary | null> {
      const [row] = await db.select().from(invitations).where(eq(invitations.id, id)).limit(1);
      return row ? summary(row) : null;
    },

    /** A new link (the old one stops working) and a fresh expiry. */
    async resend(id: string, actor: Actor, locale?: string): Promise<InvitationSummary> {
      const token = generateToken();
      const expiresAt = new Date(deps.clock.now() + deps.ttlSeconds * 1000);
      const [row] = await db
        .update(invitations)
        .set({ tokenHash: hashToken(token), expiresAt })
        .where(stillOpen(id))
        .returning();
      if (!row) throw new ServiceError("not_found", "No such open invitation.");
      send(row.email, token, expiresAt, locale);
      audit("invitation.created", {
        ...actor,
        userId: null,
        detail: { invitationId: id, email: row.email, resent: true },
      });
      return summary(row);
    },

    async revoke(id: string, actor: Actor): Promise<void> {
      const [row] = await db
        .update(invitations)
        .set({ revokedAt: now() })
        .where(stillOpen(id))
        .returning();
      if (!row) throw new ServiceError("not_found", "No such open invitation.");
      audit("invitation.revoked", {
        ...actor,
        userId: null,
        detail: { invitationId: id, email: row.email },
      });
    },

    /** For the link's page: the invitation's id, address and roles, or the reason it cannot be used. */
    async check(token: unknown): Promise<{ id: string; email: string; roles: string[] }> {
      const row = await usable(token);
      return { id: row.id, email: row.email, roles: row.roles };
    },

    /** The link's form: the account, verified, with the roles and this password; signed in. */
    async acceptWithPassword(
      token: unknown,
      input: { password: string; name: string; locale?: string },
      meta: ClientMeta,
    ): Promise<SignedIn> {
      const invitation = await usable(token);
      // A full hashing queue is a 503 with Retry-After, as for registration.
      const hash = await refuseWhenOverloaded(() => deps.hasher.hash(input.password));
      return accept(invitation, input.name, { kind: "password", hash }, meta, input.locale);
    },

    /**
     * The link's passkey form: the account, with the passkey (verified by the
     * passkey service on this invitation's challenge) and no password. The
     * account's id is the invitation's, as the passkey was made for it; the
     * session is a passkey sign-in (its amr given).
     */
    async acceptWithPasskey(
      token: unknown,
      input: {
        name: string;
        passkeyName: string;
        passkey: InvitedPasskey;
        amr: string[];
        locale?: string;
      },
      meta: ClientMeta,
    ): Promise<SignedIn> {
      const invitation = await usable(token);
      return accept(invitation, input.name, { kind: "passkey", ...input }, meta, input.locale);
    },

    /** Whether a live invitation exists for the address (the provider path). */
    async invited(email: string): Promise<boolean> {
      if (!deps.open) return false;
      const [row] = await db
        .select({ id: invitations.id })
        .from(invitations)
        .where(live(email))
        .limit(1);
      return row !== undefined;
    },

    /**
     * A provider created an account with its verified address: the newest
     * live invitation for it is used up, and its roles are the account's.
     */
    async providerRegistered(
      userId: string,
      email: string,
      verified: boolean,
      meta: Partial<ClientMeta> = {},
    ): Promise<string[]> {
      if (!verified || !deps.open) return [];
      const [row] = await db
        .select()
        .from(invitations)
        .where(live(email))
        .orderBy(desc(invitations.createdAt))
        .limit(1);
      if (!row) return [];
      const claimed = await db
        .update(invitations)
        .set({ acceptedAt: now(), acceptedUserId: userId })
        .where(and(eq(invitations.id, row.id), isNull(invitations.acceptedAt)))
        .returning({ id: invitations.id });
      if (claimed.length === 0) return [];
      await db
        .update(users)
        .set({ roles: row.roles, emailVerified: true })
        .where(eq(users.id, userId));
      audit("invitation.accepted", {
        userId,
        ...meta,
        detail: { invitationId: row.id, roles: row.roles, via: "provider" },
      });
      return row.roles;
    },
  };
}

export type Invitations = ReturnType<typeof createInvitations>;
