// The API key format: "gatehouse_" + 43 base62 characters of 256 random bits
// + 6 base62 characters of their CRC-32. The prefix lets secret scanners find
// leaked keys; the checksum lets them (and gatehouse) tell a key from random
// text without a lookup. Only the SHA-256 of the whole key is stored.
import { createHash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

export const API_KEY_PREFIX = "gatehouse_";
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SECRET_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
export const API_KEY_PATTERN = new RegExp(
  `^${API_KEY_PREFIX}[0-9A-Za-z]{${SECRET_LENGTH + CHECKSUM_LENGTH}}$`,
);

function base62(value: bigint, length: number): string {
  let out = "";
  for (let rest = value; rest > 0n; rest /= 62n) out = ALPHABET[Number(rest % 62n)] + out;
  return out.padStart(length, "0");
}

function checksum(secret: string): string {
  return base62(BigInt(crc32(secret)), CHECKSUM_LENGTH);
}

export function generateApiKey(): string {
  const secret = base62(BigInt(`0x${randomBytes(32).toString("hex")}`), SECRET_LENGTH);
  return `${API_KEY_PREFIX}${secret}${checksum(secret)}`;
}

/** True when the text has the shape and checksum of a gatehouse API key (it may still be unknown). */
export function isWellFormedApiKey(text: string): boolean {
  if (!API_KEY_PATTERN.test(text)) return false;
  const body = text.slice(API_KEY_PREFIX.length);
  return checksum(body.slice(0, SECRET_LENGTH)) === body.slice(SECRET_LENGTH);
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** What a list shows of a key: the prefix and the first four characters of the secret. */
export function apiKeyStart(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + 4);
}
