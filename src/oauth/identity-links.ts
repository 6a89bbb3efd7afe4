// Provider identities and the accounts they belong to. Identities are keyed
// on (provider, subject), never on email. A first sign-in creates the account
// (unless registration is closed), or joins an existing one by address only
// when both the provider and the account have verified it; otherwise the
// user signs in and links the provider from the account page, which needs a
// verified address. The last way to sign in cannot be unlinked.
import { and, eq } from "drizzle-orm";
import type { Audit } from "../accounts/audit.ts";
import type { ProviderRegistrationGate } from "../accounts/registration-policy.ts";
import type { Database } from "../db/client.ts";
import {
  oauthIdentities,
  passwordCredentials,
  sessions,
  users,
  webauthnCredentials,
} from "../db/schema.ts";
import { isStoreUnavailable } from "../db/unavailable.ts";
import { ServiceError } from "../errors.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Provider } from "./provider.ts";
import type { ProviderProfile } from "./provider-calls.ts";
import { LINK_NEEDS_VERIFIED_EMAIL, OAuthError, STARTED_ELSEWHERE } from "./sign-in-error.ts";
import type { SealedTokens } from "./token-vault.ts";
import type { UpstreamTokens } from "./upstream-tokens.ts";

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
/** The client an event came from, for the audit trail. */
type Meta = { ip: string | null; userAgent: string | null };
type UserRow = typeof users.$inferSelect;

export function createIdentityLinks(deps: {
  db: Database;
  audit: Audit;
  clock: Clock;
  registrationEnabled: boolean;
  /** REGISTRATION_MODE and invitations (accounts/registration-policy.ts); without it, registrationEnabled decides. */
  registrationGate?: ProviderRegistrationGate;
  /** A provider's name for people; its id when it is no longer configured. */
  providerName(id: string): string;
  tokens: Pick<UpstreamTokens, "changed" | "dropTokens">;
}) {
  const { db, audit, tokens } = deps;
  const now = () => new Date(deps.clock.now());

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
    sealed: SealedTokens,
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
    sealed: SealedTokens,
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
    tokens.changed(identity.userId, identity.provider);
  }

  return {
    /** Signs in with an identity seen before, or creates or links one under the rules. */
    async forSignIn(
      source: Provider,
      profile: ProviderProfile,
      sealed: SealedTokens,
      meta: Meta,
    ): Promise<{ user: UserRow; identityId: string }> {
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
          ...meta,
          detail: { provider: source.id, by: "verified_email" },
        });
        return { user: existing, identityId };
      }
      if (!deps.registrationEnabled)
        throw new OAuthError(403, "There is no account for you here, and registration is closed.");
      const refusal = await deps.registrationGate?.refuse(email, profile.emailVerified);
      if (refusal) throw new OAuthError(403, `There is no account for you here: ${refusal}`);
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
      audit("user.registered", { userId: id, ...meta, detail: { method: `oauth:${source.id}` } });
      const roles = await deps.registrationGate?.registered(id, email, profile.emailVerified, meta);
      if (roles && roles.length > 0) created.user = { ...created.user, roles, emailVerified: true };
      return created;
    },

    /** Whether the user may start linking a provider: the account's address must be verified. */
    async checkLinkable(userId: string): Promise<void> {
      const [user] = await db
        .select({ emailVerified: users.emailVerified })
        .from(users)
        .where(eq(users.id, userId))
        .limit(1);
      if (!user?.emailVerified) throw new OAuthError(403, LINK_NEEDS_VERIFIED_EMAIL);
    },

    /**
     * Links a provider account to a signed-in user. The account's address must
     * be verified, and the identity goes in only while the linking session
     * still exists, in one transaction behind the user's row: a first proof of
     * the address (which removes identities and sessions made before it)
     * cannot be overtaken.
     */
    async link(
      current: { userId: string; sessionId: string },
      source: Provider,
      profile: ProviderProfile,
      sealed: SealedTokens,
      meta: Meta,
    ): Promise<void> {
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
            .select({ id: sessions.id })
            .from(sessions)
            .where(and(eq(sessions.id, current.sessionId), eq(sessions.userId, userId)))
            .for("share");
          if (!live) throw new OAuthError(400, STARTED_ELSEWHERE);
          if (known) await updateIdentity(known.identity, profile, sealed, tx);
          else await insertIdentity(tx, userId, source.id, profile, sealed);
        });
      } catch (error) {
        if (error instanceof OAuthError || isStoreUnavailable(error)) throw error;
        throw linkedElsewhere(); // the same provider account, linked by someone else meanwhile
      }
      tokens.changed(userId, source.id);
      audit("oauth.linked", { userId, ...meta, detail: { provider: source.id, by: "user" } });
    },

    async list(userId: string): Promise<IdentitySummary[]> {
      const rows = await db
        .select()
        .from(oauthIdentities)
        .where(eq(oauthIdentities.userId, userId))
        .orderBy(oauthIdentities.createdAt);
      return rows.map((row) => ({
        id: row.id,
        provider: row.provider,
        providerName: deps.providerName(row.provider),
        email: row.email,
        name: row.name,
        createdAt: row.createdAt.toISOString(),
        lastLoginAt: row.lastLoginAt?.toISOString() ?? null,
      }));
    },

    /** Unlinks a provider; the last way to sign in (a password, a passkey, a provider) cannot be removed. */
    async unlink(userId: string, identityId: string, meta: Meta): Promise<void> {
      const [owned, others, password, passkeys] = await Promise.all([
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
        db
          .select({ id: webauthnCredentials.id })
          .from(webauthnCredentials)
          .where(eq(webauthnCredentials.userId, userId))
          .limit(1),
      ]);
      const identity = owned[0];
      if (!identity) throw new ServiceError("not_found", "No such linked account.");
      if (others.length <= 1 && password.length === 0 && passkeys.length === 0)
        throw new ServiceError(
          "conflict",
          "This is your only way to sign in. Set a password (“Forgot your password?”) or link another provider first.",
        );
      await db.delete(oauthIdentities).where(eq(oauthIdentities.id, identityId));
      tokens.dropTokens(userId, [identity.provider]);
      audit("oauth.unlinked", { userId, ...meta, detail: { provider: identity.provider } });
    },
  };
}

export type IdentityLinks = ReturnType<typeof createIdentityLinks>;
