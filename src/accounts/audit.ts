// Audit events: who did what, from where. Written in the background so a slow
// insert never delays a login; a failure is logged, not raised.
import type { Database } from "../db/client.ts";
import { auditEvents } from "../db/schema.ts";

export type AuditEventType =
  | "user.registered"
  | "user.login"
  | "user.login_failed"
  | "user.logout"
  | "user.email_verified"
  | "user.password_reset_requested"
  | "user.password_reset"
  | "user.password_changed"
  | "user.password_change_failed"
  | "user.disabled"
  | "user.enabled"
  | "oauth.linked"
  | "oauth.unlinked"
  | "oauth.failed"
  | "oauth.token_refreshed"
  | "mfa.totp_enabled"
  | "mfa.totp_removed"
  | "mfa.recovery_codes_generated"
  | "mfa.verified"
  | "mfa.failed"
  | "mfa.reset"
  | "session.revoked"
  | "site.signed_in"
  | "site.hop_refused"
  | "sessions.revoked_all"
  | "passkey.added"
  | "passkey.removed"
  | "passkey.failed";

export type Audit = (
  type: AuditEventType,
  event: { userId?: string | null; ip?: string | null; detail?: Record<string, unknown> },
) => void;

export function sqlAudit(db: Database, onError: (error: unknown) => void): Audit {
  return (type, event) => {
    db.insert(auditEvents)
      .values({
        type,
        userId: event.userId ?? null,
        ip: event.ip ?? null,
        detail: event.detail ?? {},
      })
      .catch(onError);
  };
}
