// The growing LRU cache: room for its contents only, the same answers as
// lru-cache with the full bound (least recently used evicted, TTLs kept
// across growth).
import assert from "node:assert/strict";
import { test } from "node:test";
import { GrowingLru } from "../../src/kernel/growing-lru.ts";

test("starts small, grows when full, and evicts the least recently used at its bound", () => {
  const cache = new GrowingLru<string, number>({ max: 2_000 });
  assert.equal(cache.capacity, 1_024);
  for (let i = 0; i < 1_024; i++) cache.set(`k${i}`, i);
  assert.equal(cache.capacity, 1_024);
  cache.get("k0"); // now the most recently used
  cache.set("k1024", 1_024);
  assert.equal(cache.capacity, 2_000, "grown, never past max");
  assert.equal(cache.size, 1_025);
  assert.equal(cache.get("k500"), 500);
  for (let i = 1_025; i < 2_001; i++) cache.set(`k${i}`, i);
  assert.equal(cache.size, 2_000);
  assert.equal(cache.has("k1"), false, "the least recently used went");
  assert.equal(cache.get("k0"), 0, "the order was kept across growth");
  assert.equal(cache.get("k500"), 500);
  cache.set("k0", -1);
  assert.equal(cache.get("k0"), -1);
  assert.equal(cache.delete("k0"), true);
  assert.equal(cache.has("k0"), false);
  cache.clear();
  assert.equal(cache.size, 0);
});

test("entries keep their time to live across growth", async () => {
  const cache = new GrowingLru<string, number>({ max: 10_000, ttl: 300 });
  cache.set("old", 1);
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (let i = 0; i < 1_100; i++) cache.set(`k${i}`, i);
  assert.equal(cache.capacity, 4_096);
  assert.equal(cache.get("old"), 1);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(
    cache.get("old"),
    undefined,
    "expired 300 ms after it was set, not after the growth",
  );
  assert.equal(cache.get("k0"), 0);
});
