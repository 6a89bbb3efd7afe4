// The rules for what people type into the hosted pages and the JSON API: one
// email address, a new password that passes the policy, a display name. Each
// returns the value in its canonical form or throws the ServiceError a person
// reads; the HTTP edge validates request bodies with them, so the services
// receive values that already hold.
import { ServiceError } from "../errors.ts";
import { stripControlCharacters } from "../security/text.ts";
import { canonicalizeEmail } from "./email.ts";
import { checkNewPassword, PASSWORD_PROBLEM_MESSAGES } from "./passwords.ts";

const NAME_MAX_LENGTH = 100;

/** Exactly one plausible address, canonical (trimmed, NFKC, lower-case). */
export function requireEmail(input: unknown): string {
  if (Array.isArray(input))
    throw new ServiceError("invalid_email", "Give exactly one email address.");
  const email = canonicalizeEmail(input);
  if (!email) throw new ServiceError("invalid_email", "Enter a valid email address.");
  return email;
}

/** The new password in its normal form, or a weak_password error saying what is wrong. */
export function requireNewPassword(input: unknown): string {
  const checked = checkNewPassword(input);
  if ("problem" in checked)
    throw new ServiceError("weak_password", PASSWORD_PROBLEM_MESSAGES[checked.problem]);
  return checked.password;
}

/** A display name: optional (""), NFKC, without control characters, at most 100 characters. */
export function requireName(input: unknown): string {
  if (input === undefined || input === null) return "";
  if (typeof input !== "string") throw new ServiceError("invalid_request", "Name must be text.");
  const name = stripControlCharacters(input.normalize("NFKC")).trim();
  if ([...name].length > NAME_MAX_LENGTH) {
    throw new ServiceError(
      "invalid_request",
      `Name must be at most ${NAME_MAX_LENGTH} characters.`,
    );
  }
  return name;
}
