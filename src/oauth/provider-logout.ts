// Signing out with OpenID Connect providers, in both directions.
// - A session signed in with a provider remembers the provider's session:
//   its `sid` and subject, and, for providers set to `logout: provider`, the
//   ID token (sealed in the token vault), in provider_sessions beside the
//   session (never on the resolver's hot path).
// - RP-initiated logout: signing out of such a session sends the browser to
//   the provider's end_session_endpoint with id_token_hint, client_id, the
//   one post-logout landing gatehouse registers per provider, and a state
//   that carries the validated return target (validated again on landing).
// - Back-channel logout: a logout token the provider posts is verified in
//   full (logout-tokens.ts), used once (logout-replay.ts), and the sessions
//   it names are revoked in SQL, Redis and every replica's memory. A token
//   that fails any check changes nothing.
import { and, eq, inArray, sql } from "drizzle-orm";
import { decodeJwt } from "jose";
import type { Audit } from "../accounts/audit.ts";
import type { Database } from "../db/client.ts";
import {
  oauthIdentities,
  type ProviderSessionRecord,
  pendingSignIns,
  providerSessions,
  sessions as sessionRows,
} from "../db/schema.ts";
import type { Clock } from "../kernel/clock.ts";
import type { SessionService } from "../sessions/service.ts";
import type { LogoutReplay } from "./logout-replay.ts";
import {
  CLOCK_SKEW_SECONDS,
  LOGOUT_TOKEN_MAX_AGE_SECONDS,
  LogoutTokenError,
  verifyLogoutToken,
} from "./logout-tokens.ts";
import type { Provider } from "./provider.ts";
import type { ProviderTokens } from "./provider-calls.ts";
import type { TokenVault } from "./token-vault.ts";

export { LogoutTokenError } from "./logout-tokens.ts";

const text = (value: unknown) => (typeof value === "string" && value.length > 0 ? value : null);

/** The provider a session was signed in with (`oauth:<id>`), or null. */
const providerOf = (method: string) => (method.startsWith("oauth:") ? method.slice(6) : null);

export function createProviderLogout(deps: {
  db: Database;
  vault: TokenVault;
  sessions: SessionService;
  audit: Audit;
  clock: Clock;
  replay: LogoutReplay;
  /** The configured provider of that id, or null. */
  provider(id: string): Provider | null;
  /** The post_logout_redirect_uri gatehouse sends (and the provider's operator registers). */
  landingUrl(providerId: string): string;
}) {
  const { db, vault, clock } = deps;

  /** The ids and users of the sessions a verified logout token names. */
  async function sessionsNamed(providerId: string, sid: string | null, sub: string | null) {
    const method = `oauth:${providerId}`;
    if (sid) {
      return db
        .select({ id: sessionRows.id, userId: sessionRows.userId })
        .from(providerSessions)
        .innerJoin(sessionRows, eq(sessionRows.id, providerSessions.sessionId))
        .where(
          and(
            eq(providerSessions.provider, providerId),
            eq(providerSessions.sid, sid),
            sub ? eq(providerSessions.subject, sub) : undefined,
          ),
        );
    }
    if (!sub) return [];
    // Every session from this provider of the account that holds this subject
    // (sessions from before provider_sessions existed included), and any
    // session recorded with this subject.
    const owners = db
      .select({ userId: oauthIdentities.userId })
      .from(oauthIdentities)
      .where(and(eq(oauthIdentities.provider, providerId), eq(oauthIdentities.subject, sub)));
    const [byAccount, recorded] = await Promise.all([
      db
        .select({ id: sessionRows.id, userId: sessionRows.userId })
        .from(sessionRows)
        .where(and(eq(sessionRows.method, method), inArray(sessionRows.userId, owners))),
      db
        .select({ id: sessionRows.id, userId: sessionRows.userId })
        .from(providerSessions)
        .innerJoin(sessionRows, eq(sessionRows.id, providerSessions.sessionId))
        .where(and(eq(providerSessions.provider, providerId), eq(providerSessions.subject, sub))),
    ]);
    const unique = new Map([...byAccount, ...recorded].map((row) => [row.id, row]));
    return [...unique.values()];
  }

  return {
    /** What to record of the provider's session, before the session exists (null: nothing). */
    async prepare(
      source: Provider,
      subject: string,
      tokens: ProviderTokens,
    ): Promise<ProviderSessionRecord | null> {
      if (!source.oidc || !tokens.idToken) return null;
      // Verified by the sign-in already: read, not checked again.
      const sid = text(decodeJwt(tokens.idToken).sid);
      const idToken = source.logout === "provider" ? await vault.seal(tokens.idToken) : null;
      return { provider: source.id, subject, sid, idToken };
    },

    /** Records the provider's session for a session just signed in with it. */
    async remember(sessionId: string, record: ProviderSessionRecord | null): Promise<void> {
      if (record) await db.insert(providerSessions).values({ sessionId, ...record });
    },

    /**
     * Where the browser goes to end the provider's session too, or null (the
     * session is not from a provider set to `logout: provider`, or the
     * provider publishes no end_session_endpoint). Read before the session is
     * revoked: its provider row goes with it.
     */
    async endSessionUrl(
      session: { id: string; method: string; signInId?: string | null },
      returnTo: string | undefined,
    ): Promise<string | null> {
      const providerId = providerOf(session.method);
      const source = providerId ? deps.provider(providerId) : null;
      if (!source?.oidc || source.logout !== "provider") return null;
      const meta = await source.oidc.discover().catch(() => null);
      const endpoint = text(meta?.end_session_endpoint);
      if (!endpoint) return null;
      let url: URL;
      try {
        url = new URL(endpoint);
      } catch {
        return null;
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") return null;
      // A satellite's session (SITES) signs out with its sign-in's, which holds the provider's.
      const [row] = await db
        .select({ idToken: providerSessions.idToken })
        .from(providerSessions)
        .where(eq(providerSessions.sessionId, session.signInId ?? session.id));
      const idToken = row?.idToken ? await vault.open(row.idToken) : null;
      if (idToken) url.searchParams.set("id_token_hint", idToken);
      url.searchParams.set("client_id", source.clientId);
      url.searchParams.set("post_logout_redirect_uri", deps.landingUrl(source.id));
      url.searchParams.set("state", encodeLandingState(returnTo));
      return url.href;
    },

    /**
     * Acts on a logout token the provider posted: the number of sessions
     * revoked. Throws LogoutTokenError (a 400) when it does not verify or was
     * used before; nothing changes then.
     */
    async backchannel(providerId: string, token: string, ip: string | null): Promise<number> {
      const source = deps.provider(providerId);
      if (!source?.oidc)
        throw new LogoutTokenError("this provider does not take back-channel logout tokens");
      const now = clock.now();
      const claims = await verifyLogoutToken(token, {
        issuer: source.oidc,
        clientId: source.clientId,
        now,
      });
      // Remembered until the iat check would refuse the token anyway.
      const until = (claims.iat + LOGOUT_TOKEN_MAX_AGE_SECONDS + 2 * CLOCK_SKEW_SECONDS) * 1000;
      if (!(await deps.replay.firstUse(source.id, claims.jti, until, now)))
        throw new LogoutTokenError("the logout token was used before");
      try {
        // A half sign-in from that provider session ends too: its factor would make a session of it.
        const session = pendingSignIns.providerSession;
        await db
          .delete(pendingSignIns)
          .where(
            and(
              sql`${session}->>'provider' = ${source.id}`,
              claims.sid ? sql`${session}->>'sid' = ${claims.sid}` : undefined,
              claims.sub ? sql`${session}->>'subject' = ${claims.sub}` : undefined,
            ),
          );
        const named = await sessionsNamed(source.id, claims.sid, claims.sub);
        // Each with its sign-in: the satellites' sessions (SITES) made from it end too.
        for (const row of named) await deps.sessions.revoke(row.id);
        for (const userId of new Set(named.map((row) => row.userId)))
          deps.audit("user.logout", {
            userId,
            ip,
            detail: {
              method: "backchannel",
              provider: source.id,
              sessions: named.filter((row) => row.userId === userId).length,
            },
          });
        return named.length;
      } catch (error) {
        // Nothing was done: the provider's retry must be accepted.
        await deps.replay.release(source.id, claims.jti).catch(() => {});
        throw error;
      }
    },
  };
}

export type ProviderLogout = ReturnType<typeof createProviderLogout>;

/** The state sent to the provider: the return target, validated again when the browser lands. */
export function encodeLandingState(returnTo: string | undefined): string {
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  return `${Buffer.from(nonce).toString("base64url")}.${Buffer.from(returnTo ?? "").toString("base64url")}`;
}

/** The return target a landing's state carries (unvalidated: the caller validates it). */
export function decodeLandingState(state: unknown): string | undefined {
  if (typeof state !== "string" || state.length > 8192) return undefined;
  const [, target] = state.split(".");
  if (!target || !/^[\w-]+$/.test(target)) return undefined;
  return Buffer.from(target, "base64url").toString("utf8") || undefined;
}
