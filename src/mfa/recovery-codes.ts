// Recovery codes: ten single-use codes, each almost 80 random bits (16 of 31 characters) written as four
// groups of four letters and digits (no 0/o, 1/l/i look-alikes), shown once
// and stored as SHA-256: with 79 bits, a leaked hash cannot be searched back.
import { createHash, randomInt } from "node:crypto";

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"; // 31 characters
const LENGTH = 16;

export function generateRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    let code = "";
    for (let i = 0; i < LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
    return code.match(/.{4}/g)?.join("-") ?? code;
  });
}

/** The code as typed (any case, spaces or dashes) in its stored form; null when it cannot be one. */
export function normalizeRecoveryCode(input: unknown): string | null {
  if (typeof input !== "string" || input.length > 40) return null;
  const code = input.toLowerCase().replace(/[\s-]/g, "");
  return code.length === LENGTH && [...code].every((c) => ALPHABET.includes(c)) ? code : null;
}

export function hashRecoveryCode(normalized: string): string {
  return createHash("sha256").update(`recovery:${normalized}`).digest("hex");
}
