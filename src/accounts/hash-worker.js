// Runs argon2id for the main thread, one hash at a time, at a lower
// scheduling priority (on Linux the nice value belongs to the thread), so a
// storm of logins never takes CPU from the event loop that answers /_resolve.
// Plain JavaScript: a worker thread needs no TypeScript loader.
import { setPriority } from "node:os";
import { parentPort } from "node:worker_threads";
import { hashSync, verifySync } from "@node-rs/argon2";

const LOWER_PRIORITY = 19;
try {
  setPriority(0, LOWER_PRIORITY);
} catch {
  // Not permitted here: hashing still works, at normal priority.
}

parentPort?.on("message", ({ id, op, password, hash, options }) => {
  try {
    const result = op === "hash" ? hashSync(password, options) : verifySync(hash, password);
    parentPort?.postMessage({ id, result });
  } catch (error) {
    // A malformed stored hash does not verify.
    parentPort?.postMessage({
      id,
      result: op === "verify" ? false : undefined,
      error: String(error),
    });
  }
});
