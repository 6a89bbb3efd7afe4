// A signed-in user's own sessions: the list the account page shows, signing
// one of them out, and signing out all the others. Ownership is checked here
// (another user's session is "no such session"), and every revocation is
// written to the audit log.
import { ServiceError } from "../errors.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionRecord } from "../sessions/store.ts";
import type { Audit } from "./audit.ts";
import type { ClientMeta } from "./service.ts";

export function createOwnSessions(deps: {
  sessions: Pick<SessionService, "list" | "revoke" | "revokeAllForUser">;
  audit: Audit;
}) {
  const { sessions, audit } = deps;
  return {
    /** The user's live sessions. */
    list: (userId: string): Promise<SessionRecord[]> => sessions.list(userId),

    /** Signs out one of the user's sessions; not_found for any session that is not theirs. */
    async revoke(userId: string, sessionId: string, meta: ClientMeta): Promise<void> {
      const owned = (await sessions.list(userId)).some((session) => session.id === sessionId);
      if (!owned) throw new ServiceError("not_found", "No such session.");
      await sessions.revoke(sessionId);
      audit("session.revoked", { userId, ...meta, detail: { sessionId } });
    },

    /** Signs out every session of the user but the one asking; returns how many went. */
    async revokeOthers(userId: string, currentId: string, meta: ClientMeta): Promise<number> {
      const count = await sessions.revokeAllForUser(userId, currentId);
      audit("sessions.revoked_all", { userId, ...meta, detail: { count } });
      return count;
    },
  };
}

export type OwnSessions = ReturnType<typeof createOwnSessions>;
