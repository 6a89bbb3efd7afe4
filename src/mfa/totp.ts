// TOTP as every authenticator app expects it (RFC 6238): SHA-1, 6 digits,
// 30-second steps, a 160-bit secret. A code is accepted for the current step
// and one step either side (clocks drift); which step it matched is returned,
// so the caller can refuse that step, and every earlier one, ever after.
import { Secret, TOTP } from "otpauth";

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one. */
export const TOTP_WINDOW = 1;

function totp(secretBase32: string, label = "", issuer = ""): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: "SHA1",
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: Secret.fromBase32(secretBase32),
  });
}

/** A new random secret (20 bytes), base32 as apps take it. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The otpauth:// URI an app reads from the QR code. */
export function totpUri(secretBase32: string, issuer: string, account: string): string {
  return totp(secretBase32, account, issuer).toString();
}

/** The time step of a moment. */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code of a moment (tests, and nothing else, need this). */
export function totpCodeAt(secretBase32: string, nowMs: number): string {
  return totp(secretBase32).generate({ timestamp: nowMs });
}

/** Six digits, spaces and dashes ignored; anything else is no code at all. */
export function normalizeTotpCode(input: unknown): string | null {
  if (typeof input !== "string" || input.length > 20) return null;
  const code = input.replace(/[\s-]/g, "");
  return /^\d{6}$/.test(code) ? code : null;
}

/** The step the code belongs to (current ±1), or null when it matches none. */
export function matchingStep(secretBase32: string, code: string, nowMs: number): number | null {
  const delta = totp(secretBase32).validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW });
  return delta === null ? null : totpStep(nowMs) + delta;
}
