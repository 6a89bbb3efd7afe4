// The hashing threads start with their first job and end when idle; a job
// after that starts a new one, so sign-ins never notice.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createPasswordHasher } from "../../src/accounts/passwords.ts";

test("a hashing thread ended for idleness is started again by the next job", async () => {
  const hasher = await createPasswordHasher({ concurrency: 1, queue: 2, idleMs: 50 });
  try {
    const hash = await hasher.hash("a long and uncommon passphrase 42");
    assert.equal(await hasher.verify(hash, "a long and uncommon passphrase 42"), true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The thread has ended: these start a new one.
    assert.equal(await hasher.verify(hash, "a long and uncommon passphrase 42"), true);
    assert.equal(await hasher.verify(hash, "not the passphrase"), false);
    assert.equal(await hasher.verify(undefined, "anything at all here"), false);
    // Several at once while it starts: each answered.
    const answers = await Promise.all([
      hasher.verify(hash, "a long and uncommon passphrase 42"),
      hasher.verify(hash, "wrong"),
      hasher.hash("another long passphrase 43"),
    ]);
    assert.deepEqual(answers.slice(0, 2), [true, false]);
    assert.match(String(answers[2]), /^\$argon2id\$/);
  } finally {
    await hasher.close();
  }
});
