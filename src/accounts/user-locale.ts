// The language stored with an account: set at registration (the page's) and
// whenever a signed-in user picks one with the selector; the mail sent to
// the account's address is written in it.
import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { users } from "../db/schema.ts";

export type UserLocales = {
  /** Stores the language a signed-in user chose. */
  set(userId: string, locale: string): Promise<void>;
  /** Stores `locale` when the account has none yet (an account made by a provider's sign-in). */
  keepFirst(userId: string, locale: string): Promise<void>;
  /** The language stored with the account of this (canonical) address, if any. */
  ofAddress(email: string): Promise<string | null>;
};

export function userLocales(db: Database): UserLocales {
  return {
    async set(userId, locale) {
      await db.update(users).set({ locale }).where(eq(users.id, userId));
    },
    async keepFirst(userId, locale) {
      await db
        .update(users)
        .set({ locale })
        .where(and(eq(users.id, userId), isNull(users.locale)));
    },
    async ofAddress(email) {
      const [row] = await db
        .select({ locale: users.locale })
        .from(users)
        .where(eq(users.email, email))
        .limit(1);
      return row?.locale ?? null;
    },
  };
}
