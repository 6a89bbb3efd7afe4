// Password policy and hashing. argon2id with the OWASP parameters, set
// explicitly; hashing runs under a concurrency limit so that a login storm
// cannot starve the resolver: excess work is refused at once, not queued.
import { readFileSync } from "node:fs";
import { type Algorithm, hash, verify } from "@node-rs/argon2";

// Algorithm.Argon2id: a const enum, which cannot be imported as a value under verbatimModuleSyntax.
const ARGON2ID = 2 as Algorithm;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
/** Checked before hashing: a 128-code-point password of 4-byte characters is 512 bytes. */
export const PASSWORD_MAX_BYTES = 512;

const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

let blocklist: Set<string> | undefined;

function commonPasswords(): Set<string> {
  blocklist ??= new Set(
    readFileSync(new URL("./common-passwords.txt", import.meta.url), "utf8")
      .split("\n")
      .filter((line) => line.length > 0 && !line.startsWith("#")),
  );
  return blocklist;
}

export type PasswordProblem = "not_a_string" | "too_short" | "too_long" | "too_common";

export const PASSWORD_PROBLEM_MESSAGES: Record<PasswordProblem, string> = {
  not_a_string: "Password is required.",
  too_short: `Password must be at least ${PASSWORD_MIN_LENGTH} characters.`,
  too_long: `Password must be at most ${PASSWORD_MAX_LENGTH} characters.`,
  too_common: "This password is too common. Please choose another.",
};

/** NFKC-normalises a candidate password; refuses it if it is too short, too long or common. */
export function checkNewPassword(
  input: unknown,
): { password: string } | { problem: PasswordProblem } {
  const normalized = normalizePassword(input);
  if (normalized === undefined)
    return { problem: typeof input === "string" ? "too_long" : "not_a_string" };
  const length = [...normalized].length;
  if (length < PASSWORD_MIN_LENGTH) return { problem: "too_short" };
  if (length > PASSWORD_MAX_LENGTH) return { problem: "too_long" };
  if (commonPasswords().has(normalized.toLowerCase())) return { problem: "too_common" };
  return { password: normalized };
}

/** NFKC form of a password, or undefined when it is not a string or exceeds the byte cap (checked before and after normalising). */
export function normalizePassword(input: unknown): string | undefined {
  if (typeof input !== "string" || Buffer.byteLength(input) > PASSWORD_MAX_BYTES) return undefined;
  const normalized = input.normalize("NFKC");
  return Buffer.byteLength(normalized) > PASSWORD_MAX_BYTES ? undefined : normalized;
}

export class HashingOverloadedError extends Error {
  constructor() {
    super("password hashing is at capacity");
  }
}

export type PasswordHasher = {
  hash(password: string): Promise<string>;
  /** Verifies against the stored hash, or against a dummy hash when there is none, so both take the same time. */
  verify(storedHash: string | undefined, password: string): Promise<boolean>;
};

/**
 * A hasher that runs at most `concurrency` hashes at once and lets at most
 * `queue` more wait; anything beyond that throws HashingOverloadedError.
 */
export async function createPasswordHasher(options: {
  concurrency: number;
  queue: number;
}): Promise<PasswordHasher> {
  let running = 0;
  const waiting: (() => void)[] = [];

  async function limited<T>(work: () => Promise<T>): Promise<T> {
    if (running >= options.concurrency) {
      if (waiting.length >= options.queue) throw new HashingOverloadedError();
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      running++;
    }
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  }

  const dummyHash = await hash(crypto.randomUUID(), ARGON2_OPTIONS);
  return {
    hash: (password) => limited(() => hash(password, ARGON2_OPTIONS)),
    verify: (storedHash, password) =>
      limited(async () => {
        const ok = await verify(storedHash ?? dummyHash, password).catch(() => false);
        return ok && storedHash !== undefined;
      }),
  };
}
