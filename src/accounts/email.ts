// Email addresses are compared in one canonical form: trimmed, NFKC, lower-case.

const MAX_EMAIL_LENGTH = 254;

/** Returns the canonical address, or undefined when it is not a single plausible address. */
import { hasControlCharacters } from "../security/text.ts";

export function canonicalizeEmail(input: unknown): string | undefined {
  if (typeof input !== "string") return undefined;
  const email = input.trim().normalize("NFKC").toLowerCase();
  if (email.length === 0 || email.length > MAX_EMAIL_LENGTH) return undefined;
  // One address: no separators, whitespace or control characters; local@domain with a dot-free-or-dotted domain.
  if (/[\s,;<>()[\]\\"]/.test(email) || hasControlCharacters(email)) return undefined;
  const at = email.lastIndexOf("@");
  if (at < 1 || at !== email.indexOf("@") || at === email.length - 1) return undefined;
  const domain = email.slice(at + 1);
  if (domain.startsWith(".") || domain.endsWith(".") || domain.includes("..")) return undefined;
  return email;
}
