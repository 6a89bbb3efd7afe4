// Password policy and hashing. argon2id with the OWASP parameters, set
// explicitly; hashing runs under a concurrency limit so that a login storm
// cannot starve the resolver: excess work is refused at once, not queued.
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { Algorithm } from "@node-rs/argon2";
import { ServiceError } from "../errors.ts";

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

/**
 * What a password is verified against when there is no stored hash, so that
 * an unknown account takes as long as a wrong password: a hash made once
 * with ARGON2_OPTIONS (of a random value nobody kept), written here rather
 * than made at start, which started a hashing thread (~20 MB) for it. A
 * verification against it never succeeds (verify needs a stored hash).
 */
const DUMMY_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$tLEtDkFVqQ9q9QHw4loEkw$pP8EMk7bYiRfpFYJO9zD7WlLyYzY5B9Nbw/OhtUZkaw";
const DUMMY_PARAMETERS = `$argon2id$v=19$m=${ARGON2_OPTIONS.memoryCost},t=${ARGON2_OPTIONS.timeCost},p=${ARGON2_OPTIONS.parallelism}$`;
if (!DUMMY_HASH.startsWith(DUMMY_PARAMETERS))
  throw new Error(`DUMMY_HASH must be made with ARGON2_OPTIONS (${DUMMY_PARAMETERS})`);

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

/** What a person is told when every hashing thread is busy: try again in a moment (503). */
export const overloaded = () =>
  new ServiceError("overloaded", "Too many sign-ins at once. Try again in a moment.", 1);

/** Runs password work; a hasher at capacity becomes the 503 `overloaded`. */
export async function refuseWhenOverloaded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof HashingOverloadedError) throw overloaded();
    throw error;
  }
}

export type PasswordHasher = {
  hash(password: string): Promise<string>;
  /** Verifies against the stored hash, or against a dummy hash when there is none, so both take the same time. */
  verify(storedHash: string | undefined, password: string): Promise<boolean>;
  /** False when a hash now would be refused (every thread busy and the queue full). */
  hasCapacity(): boolean;
  /** Stops the hashing threads. */
  close(): Promise<void>;
};

type Job = { op: "hash"; password: string } | { op: "verify"; password: string; hash: string };

/**
 * One hashing thread (hash-worker.js): one job at a time, answers matched by
 * id. The thread is started by its first job and ends after `idleMs` without
 * one, so a resolver that nobody signs in to does not carry it (~20 MB).
 */
function hashThread(idleMs: number) {
  let worker: Worker | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const start = (): Worker => {
    const thread = new Worker(new URL("./hash-worker.js", import.meta.url));
    thread.unref();
    thread.on("message", ({ id, result, error }) => {
      const job = pending.get(id);
      pending.delete(id);
      if (error && result === undefined) job?.reject(new Error(error));
      else job?.resolve(result);
      if (pending.size === 0) {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(stop, idleMs).unref();
      }
    });
    // A crashed thread fails its jobs; the next job starts a new one.
    thread.on("error", (error) => {
      for (const job of pending.values()) job.reject(error);
      pending.clear();
      if (worker === thread) worker = undefined;
    });
    return thread;
  };
  const stop = async () => {
    clearTimeout(idleTimer);
    const thread = worker;
    worker = undefined;
    await thread?.terminate();
  };
  return {
    run(job: Job): Promise<unknown> {
      clearTimeout(idleTimer);
      worker ??= start();
      const id = nextId++;
      const thread = worker;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        thread.postMessage({ id, ...job, options: ARGON2_OPTIONS });
      });
    },
    close: stop,
  };
}

/**
 * A hasher that runs at most `concurrency` hashes at once and lets at most
 * `queue` more wait; anything beyond that throws HashingOverloadedError.
 */
export async function createPasswordHasher(options: {
  concurrency: number;
  queue: number;
  /** A hashing thread ends after this long without work (default 30 s). */
  idleMs?: number;
}): Promise<PasswordHasher> {
  const threads = Array.from({ length: options.concurrency }, () =>
    hashThread(options.idleMs ?? 30_000),
  );
  const idle = [...threads];
  const waiting: ((thread: ReturnType<typeof hashThread>) => void)[] = [];

  async function limited(job: Job): Promise<unknown> {
    let thread = idle.pop();
    if (!thread) {
      if (waiting.length >= options.queue) throw new HashingOverloadedError();
      thread = await new Promise<ReturnType<typeof hashThread>>((resolve) => waiting.push(resolve));
    }
    try {
      return await thread.run(job);
    } finally {
      const next = waiting.shift();
      if (next) next(thread);
      else idle.push(thread);
    }
  }

  return {
    hash: async (password) => (await limited({ op: "hash", password })) as string,
    async verify(storedHash, password) {
      const ok = await limited({ op: "verify", password, hash: storedHash ?? DUMMY_HASH });
      return ok === true && storedHash !== undefined;
    },
    hasCapacity: () => idle.length > 0 || waiting.length < options.queue,
    close: async () => {
      await Promise.all(threads.map((thread) => thread.close()));
    },
  };
}
