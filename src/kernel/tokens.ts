// Opaque secrets handed to browsers and mail: 256 random bits, base64url.
// Only their SHA-256 is stored, so a database leak yields no usable secret.
import { createHash, randomBytes } from "node:crypto";

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}

/** True for a string that could be one of our tokens; anything else is refused before any lookup. */
export function isWellFormedToken(token: string | undefined): token is string {
  return token !== undefined && TOKEN_PATTERN.test(token);
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
