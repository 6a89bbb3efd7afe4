// What an operator does to a user's passkeys from the CLI, after verifying
// the person out of band (a lost phone, a stolen laptop): list them, and
// remove them all. Removing them also ends the sessions they signed in, so
// a lost device's sign-in goes with its passkey; the caller drops those
// sessions from every cache (`sessionIds`).
import { and, asc, eq } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { auditEvents, sessions, webauthnCredentials } from "../db/schema.ts";
import { type PasskeySummary, passkeySummary } from "./service.ts";

export function passkeyAdmin(db: Database) {
  return {
    async list(userId: string): Promise<PasskeySummary[]> {
      const rows = await db
        .select()
        .from(webauthnCredentials)
        .where(eq(webauthnCredentials.userId, userId))
        .orderBy(asc(webauthnCredentials.createdAt));
      return rows.map(passkeySummary);
    },

    async removeAll(userId: string): Promise<{ removed: number; sessionIds: string[] }> {
      const result = await db.transaction(async (tx) => {
        const removed = await tx
          .delete(webauthnCredentials)
          .where(eq(webauthnCredentials.userId, userId))
          .returning({ id: webauthnCredentials.id });
        const ended = await tx
          .delete(sessions)
          .where(and(eq(sessions.userId, userId), eq(sessions.method, "passkey")))
          .returning({ id: sessions.id });
        // Audited in the same transaction: the CLI exits right after.
        if (removed.length > 0)
          await tx.insert(auditEvents).values({
            type: "passkey.removed",
            userId,
            detail: { by: "operator", count: removed.length, sessionsEnded: ended.length },
          });
        return { removed: removed.length, sessionIds: ended.map((row) => row.id) };
      });
      return result;
    },
  };
}
