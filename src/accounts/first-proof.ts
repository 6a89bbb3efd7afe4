// The first proof that an address is its owner's. An account can be made
// for an address by someone who does not own it; the first time a link
// proves the address (a verification, or a reset of an unverified account),
// whatever was made on the account before that proof is removed: API keys,
// linked providers and their tokens, sessions, pending links. The answer and
// a notice say what went.

import { and, eq, isNull, ne } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import {
  apiKeys,
  emailTokens,
  oauthIdentities,
  pendingSignIns,
  recoveryCodes,
  sessions as sessionRows,
  totpFactors,
  users,
} from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import type { Translate } from "../i18n/catalogue.ts";

export const INVALID_LINK =
  "This link is not valid: it was already used, has expired, or was replaced by a newer one.";

/** What a first proof of the address removed from the account. */
export type Removed = {
  /** Sessions signed out (the browser presenting a verification link keeps its own). */
  sessions: number;
  apiKeys: number;
  /** Ids of the providers unlinked. */
  providers: string[];
};

/** What a first proof removed, with what the caches must drop after the commit. */
export type Cleared = { removed: Removed; sessionIds: string[]; keyHashes: string[] };

type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** One sentence saying what a first proof of the address removed, for pages and mail, in `t`'s language. */
export function describeRemoved(
  removed: Removed,
  t: Translate,
  providerName: (id: string) => string = (id) => id,
): string {
  const parts: string[] = [];
  if (removed.apiKeys > 0) parts.push(t("mail.removed.apiKeys", { count: removed.apiKeys }));
  if (removed.providers.length > 0)
    parts.push(
      t("mail.removed.providers", {
        count: removed.providers.length,
        names: removed.providers.map(providerName).join(", "),
      }),
    );
  if (removed.sessions > 0) parts.push(t("mail.removed.sessions", { count: removed.sessions }));
  if (parts.length === 0) return t("mail.removed.nothing");
  const items =
    parts.length > 1
      ? t("mail.removed.and", { first: parts.slice(0, -1).join(", "), last: parts.at(-1) ?? "" })
      : (parts[0] as string);
  return t("mail.removed.some", { items });
}

/** Whether a first proof removed anything worth telling. */
export const removedAnything = (removed: Removed) =>
  removed.sessions > 0 || removed.apiKeys > 0 || removed.providers.length > 0;

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
export async function proveAddress(
  tx: Transaction,
  userId: string,
  now: () => Date,
  keep: { sessionId?: string; provider?: string } = {},
): Promise<Cleared | null> {
  const [user] = await tx
    .select({ emailVerified: users.emailVerified })
    .from(users)
    .where(eq(users.id, userId))
    .for("no key update");
  if (!user) throw new ServiceError("invalid_token", INVALID_LINK);
  if (user.emailVerified) return null;
  await tx.update(users).set({ emailVerified: true, updatedAt: now() }).where(eq(users.id, userId));
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
  // Second factors set up before the proof are not the owner's: they would lock the owner out.
  await tx.delete(totpFactors).where(eq(totpFactors.userId, userId));
  await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
  await tx.delete(pendingSignIns).where(eq(pendingSignIns.userId, userId));
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
