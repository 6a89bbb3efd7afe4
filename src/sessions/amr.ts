// How a session was authenticated, as RFC 8176 `amr` values: what a new
// session starts with, and when a factor was last proven. A second factor
// proven by gatehouse (a TOTP code, a recovery code, a passkey) always adds
// `mfa`; so does a sign-in provider that says so in its ID token's amr (the
// provider that vouches for who the user is vouches for how, too).
import type { SessionRecord } from "./store.ts";

/** The value every second factor adds; a rule with `mfa: true` asks for it. */
export const MFA = "mfa";

/** What a session begun this way proved, when its creator gave no amr. */
export function defaultAmr(method: string): string[] {
  if (method === "password") return ["pwd"];
  if (method === "passkey") return ["hwk", MFA];
  return [];
}

/**
 * What proving a passkey adds (RFC 8176): a key bound to one device is a
 * hardware-secured key (hwk); one synced across devices (multiDevice, or
 * backed up) lives in software the sync service holds too (swk).
 */
export function passkeyAmr(passkey: { deviceType: string; backedUp: boolean }): string[] {
  const bound = passkey.deviceType === "singleDevice" && !passkey.backedUp;
  return [bound ? "hwk" : "swk", MFA];
}

/** A session's amr (rows from before amr existed have none: their method's). */
export function amrOf(session: Pick<SessionRecord, "amr" | "method">): string[] {
  return session.amr.length > 0 ? session.amr : defaultAmr(session.method);
}

/** Values a provider may hand over: short RFC 8176-style tokens, nothing that could break a header. */
export function providerAmr(claim: unknown): string[] | null {
  if (!Array.isArray(claim)) return null;
  const values = claim.filter(
    (value): value is string => typeof value === "string" && /^[A-Za-z0-9_.:-]{1,32}$/.test(value),
  );
  return [...new Set(values)].slice(0, 10);
}

/** The amr after proving `added` (in order, no repeats). */
export function mergeAmr(amr: string[], added: string[]): string[] {
  return [...new Set([...amr, ...added])];
}

/** When the session last proved anything (the newest factor time, else its sign-in). */
export function lastProofAt(
  session: Pick<SessionRecord, "authenticatedAt"> & { factorTimes?: Record<string, number> },
): number {
  let latest = session.authenticatedAt.getTime();
  for (const at of Object.values(session.factorTimes ?? {})) if (at > latest) latest = at;
  return latest;
}

/**
 * Adding or removing a factor, a passkey or an API key needs a proof (a
 * sign-in, or a factor proven on the step-up page) at most this old: a
 * stolen session alone cannot take over the account or mint credentials.
 */
export const RECENT_PROOF_WINDOW_MS = 5 * 60 * 1000;

/** True when the session proved something within RECENT_PROOF_WINDOW_MS of `now`. */
export function provenRecently(
  session: Pick<SessionRecord, "authenticatedAt"> & { factorTimes?: Record<string, number> },
  now: number,
): boolean {
  return now - lastProofAt(session) <= RECENT_PROOF_WINDOW_MS;
}

/** When the session last proved a second factor; null when it never did. */
export function lastSecondFactorAt(
  session: Pick<SessionRecord, "authenticatedAt" | "factorTimes" | "amr" | "method">,
): number | null {
  if (!amrOf(session).includes(MFA)) return null;
  return session.factorTimes[MFA] ?? session.authenticatedAt.getTime();
}
