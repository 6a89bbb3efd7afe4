// Audit events: who did what to whom, from where, with what outcome. Written
// in the background so a slow insert never delays a login; a failure is
// logged, not raised. Each event names its subject (the account it is about,
// kept after the account is deleted), its actor (the subject, an admin's id,
// or "cli"), the client's address and user agent, and success or failure.
// Never a password, a token or a key: detail holds ids, counts and methods.
// Optionally copied to the structured log (AUDIT_LOG) for a SIEM; events
// older than AUDIT_RETENTION are deleted in the background.
import { and, desc, eq, gte, inArray, lt, lte, type SQL } from "drizzle-orm";
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
  | "user.deleted"
  | "user.created"
  | "user.roles_changed"
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
  | "passkey.failed"
  | "api_key.created"
  | "api_key.revoked"
  | "admin.verification_sent"
  | "admin.password_reset_sent"
  | "admin.denied"
  | "mfa.added"
  | "mfa.removed"
  | "invitation.created"
  | "invitation.accepted"
  | "invitation.revoked";

// Every kind, once: a kind added to the type above and not here does not compile.
const EVENT_KINDS: Record<AuditEventType, true> = {
  "user.registered": true,
  "user.login": true,
  "user.login_failed": true,
  "user.logout": true,
  "user.email_verified": true,
  "user.password_reset_requested": true,
  "user.password_reset": true,
  "user.password_changed": true,
  "user.password_change_failed": true,
  "user.disabled": true,
  "user.enabled": true,
  "user.deleted": true,
  "user.created": true,
  "user.roles_changed": true,
  "oauth.linked": true,
  "oauth.unlinked": true,
  "oauth.failed": true,
  "oauth.token_refreshed": true,
  "mfa.totp_enabled": true,
  "mfa.totp_removed": true,
  "mfa.recovery_codes_generated": true,
  "mfa.verified": true,
  "mfa.failed": true,
  "mfa.reset": true,
  "mfa.added": true,
  "mfa.removed": true,
  "passkey.added": true,
  "passkey.removed": true,
  "passkey.failed": true,
  "session.revoked": true,
  "sessions.revoked_all": true,
  "site.signed_in": true,
  "site.hop_refused": true,
  "api_key.created": true,
  "api_key.revoked": true,
  "admin.verification_sent": true,
  "admin.password_reset_sent": true,
  "admin.denied": true,
  "invitation.created": true,
  "invitation.accepted": true,
  "invitation.revoked": true,
};

/** The kinds, for the console's filter and for validating it (every kind: the record above says so). */
export const AUDIT_EVENT_TYPES = Object.keys(EVENT_KINDS) as readonly AuditEventType[];

export type AuditOutcome = "success" | "failure";

export type AuditEvent = {
  /** The subject: whose account this is about. */
  userId?: string | null;
  /** Who acted; defaults to the subject. An admin's user id, or "cli". */
  actorId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** Defaults to failure for the *_failed and denied kinds, success otherwise. */
  outcome?: AuditOutcome;
  detail?: Record<string, unknown>;
};

export type Audit = (type: AuditEventType, event: AuditEvent) => void;

export type AuditRecord = {
  id: number;
  at: string;
  type: string;
  userId: string | null;
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  outcome: string;
  detail: Record<string, unknown>;
};

const USER_AGENT_MAX = 300;

function defaultOutcome(type: AuditEventType): AuditOutcome {
  return type.endsWith("_failed") || type.endsWith(".failed") || type.endsWith(".denied")
    ? "failure"
    : "success";
}

/** The row an event becomes: the actor defaults to the subject; a user agent is capped. */
export function auditRow(type: AuditEventType, event: AuditEvent) {
  return {
    type,
    userId: event.userId ?? null,
    actorId: event.actorId ?? event.userId ?? null,
    ip: event.ip ?? null,
    userAgent: event.userAgent ? event.userAgent.slice(0, USER_AGENT_MAX) : null,
    outcome: event.outcome ?? defaultOutcome(type),
    detail: event.detail ?? {},
  };
}

export function sqlAudit(
  db: Database,
  onError: (error: unknown) => void,
  /** Called with every event as written: the structured-log copy for a SIEM. */
  copy?: (record: ReturnType<typeof auditRow> & { at: string }) => void,
  now: () => number = Date.now,
): Audit {
  return (type, event) => {
    const row = auditRow(type, event);
    const at = new Date(now());
    copy?.({ ...row, at: at.toISOString() });
    db.insert(auditEvents)
      .values({ ...row, at })
      .catch(onError);
  };
}

export type AuditQuery = {
  userId?: string;
  type?: string;
  since?: Date;
  until?: Date;
  /** Keyset: events with a smaller id than this (older). */
  before?: number;
  limit: number;
};

function toRecord(row: typeof auditEvents.$inferSelect): AuditRecord {
  return {
    id: row.id,
    at: row.at.toISOString(),
    type: row.type,
    userId: row.userId,
    actorId: row.actorId,
    ip: row.ip,
    userAgent: row.userAgent,
    outcome: row.outcome,
    detail: row.detail,
  };
}

/** Reading the trail: newest first, by user, kind and time range, keyset-paginated on id. */
export function auditReader(db: Database) {
  return {
    async list(query: AuditQuery): Promise<AuditRecord[]> {
      const where: SQL[] = [];
      if (query.userId !== undefined) where.push(eq(auditEvents.userId, query.userId));
      if (query.type !== undefined) where.push(eq(auditEvents.type, query.type));
      if (query.since) where.push(gte(auditEvents.at, query.since));
      if (query.until) where.push(lte(auditEvents.at, query.until));
      if (query.before !== undefined) where.push(lt(auditEvents.id, query.before));
      const rows = await db
        .select()
        .from(auditEvents)
        .where(and(...where))
        .orderBy(desc(auditEvents.id))
        .limit(query.limit);
      return rows.map(toRecord);
    },

    /** Every event since a moment, oldest first, a page at a time (the CLI's export). */
    async *since(from: Date, pageSize = 1000): AsyncGenerator<AuditRecord> {
      let after = 0;
      for (;;) {
        const rows = await db
          .select()
          .from(auditEvents)
          .where(and(gte(auditEvents.at, from), gteId(after)))
          .orderBy(auditEvents.id)
          .limit(pageSize);
        for (const row of rows) yield toRecord(row);
        if (rows.length < pageSize) return;
        after = (rows.at(-1)?.id ?? after) + 1;
      }
    },

    /** Deletes events older than the cut-off; returns how many went. */
    async deleteOlderThan(cutoff: Date, batch = 10_000): Promise<number> {
      // In batches, so a first sweep over years of events holds no long lock.
      let total = 0;
      for (;;) {
        const gone = await db
          .delete(auditEvents)
          .where(
            inArray(
              auditEvents.id,
              db
                .select({ id: auditEvents.id })
                .from(auditEvents)
                .where(lt(auditEvents.at, cutoff))
                .limit(batch),
            ),
          )
          .returning({ id: auditEvents.id });
        total += gone.length;
        if (gone.length < batch) return total;
      }
    },
  };
}

const gteId = (id: number) => gte(auditEvents.id, id);

export type AuditReader = ReturnType<typeof auditReader>;

/**
 * Deletes events older than `retentionSeconds` now and then every
 * `everyMs`; 0 keeps them for ever. Returns a stop function.
 */
export function startAuditRetention(deps: {
  reader: AuditReader;
  retentionSeconds: number;
  now: () => number;
  onError: (error: unknown) => void;
  onDeleted?: (count: number) => void;
  everyMs?: number;
}): () => void {
  if (deps.retentionSeconds <= 0) return () => {};
  const sweep = () => {
    deps.reader
      .deleteOlderThan(new Date(deps.now() - deps.retentionSeconds * 1000))
      .then((count) => deps.onDeleted?.(count), deps.onError);
  };
  const first = setTimeout(sweep, 5_000);
  first.unref();
  const timer = setInterval(sweep, deps.everyMs ?? 3_600_000);
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
