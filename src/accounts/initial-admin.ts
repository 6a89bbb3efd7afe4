// INITIAL_ADMIN_EMAIL: the first account that holds that address, verified,
// becomes an admin, once. It is checked when an account is registered, its
// address verified, or it signs in (the audit events say when); a row in the
// settings table makes the grant happen at most once, so removing the role
// later is not undone by the next sign-in, and two replicas cannot both
// grant it.
import { eq, sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { settings, users } from "../db/schema.ts";
import type { AuditEvent, AuditEventType } from "./audit.ts";
import { canonicalizeEmail } from "./email.ts";

const GRANTED = "initial_admin_granted";
const TRIGGERS = new Set<AuditEventType>(["user.registered", "user.email_verified", "user.login"]);

export function initialAdmin(deps: {
  db: Database;
  config: { initial_admin_email?: string; admin_role: string };
  logError: (error: unknown, context: string) => void;
  /** Makes every replica read the account again (the new role shows at once). */
  refreshUser: (userId: string) => Promise<void>;
}) {
  const email = deps.config.initial_admin_email
    ? canonicalizeEmail(deps.config.initial_admin_email)
    : null;
  let done = false;

  /** Grants the role when this user is the one; returns whether it did. */
  async function check(userId: string): Promise<boolean> {
    if (!email || done) return false;
    return deps.db.transaction(async (tx) => {
      const [user] = await tx
        .select({ email: users.email, emailVerified: users.emailVerified, roles: users.roles })
        .from(users)
        .where(eq(users.id, userId))
        .limit(1);
      if (!user || user.email !== email || !user.emailVerified) return false;
      const claimed = await tx
        .insert(settings)
        .values({ key: GRANTED, value: userId })
        .onConflictDoNothing()
        .returning({ key: settings.key });
      done = true;
      if (claimed.length === 0) return false;
      if (!user.roles.includes(deps.config.admin_role))
        await tx
          .update(users)
          .set({
            roles: sql`array_append(${users.roles}, ${deps.config.admin_role})`,
            updatedAt: new Date(),
          })
          .where(eq(users.id, userId));
      return true;
    });
  }

  return {
    check,
    /** Told of every audit event; checks in the background after the ones that may matter. */
    seen(
      type: AuditEventType,
      userId: string | null | undefined,
      onPromoted: (event: AuditEvent) => void,
    ): void {
      if (!email || done || !userId || !TRIGGERS.has(type)) return;
      check(userId).then(
        async (promoted) => {
          if (!promoted) return;
          await deps.refreshUser(userId);
          onPromoted({
            userId,
            actorId: "INITIAL_ADMIN_EMAIL",
            detail: { added: [deps.config.admin_role] },
          });
        },
        (error) => deps.logError(error, "initial admin"),
      );
    },
  };
}
