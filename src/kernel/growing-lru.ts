// An LRU cache bounded by `max` whose memory follows what it holds.
// lru-cache allocates its arrays for `max` entries when it is made (~44
// bytes an entry with a TTL: ~4.4 MB for the session cache's default 100,000,
// and gatehouse has five such caches), so this one starts with room for
// 1,024 and, when full, moves its entries (their order and remaining TTL
// kept, through lru-cache's dump and load) to one four times as large, up to
// `max`. Past that it is lru-cache itself: the least recently used goes.
import { LRUCache } from "lru-cache";

const FIRST_CAPACITY = 1_024;
const GROWTH = 4;

export class GrowingLru<K extends {}, V extends {}> {
  readonly #options: LRUCache.Options<K, V, unknown> & { max: number };
  #cache: LRUCache<K, V>;

  constructor(options: LRUCache.Options<K, V, unknown> & { max: number }) {
    this.#options = options;
    this.#cache = new LRUCache({ ...options, max: Math.min(options.max, FIRST_CAPACITY) });
  }

  get(key: K): V | undefined {
    return this.#cache.get(key);
  }

  has(key: K): boolean {
    return this.#cache.has(key);
  }

  set(key: K, value: V): this {
    const cache = this.#cache;
    if (cache.size >= cache.max && cache.max < this.#options.max && !cache.has(key)) {
      const larger = new LRUCache<K, V>({
        ...this.#options,
        max: Math.min(this.#options.max, cache.max * GROWTH),
      });
      larger.load(cache.dump());
      this.#cache = larger;
    }
    this.#cache.set(key, value);
    return this;
  }

  delete(key: K): boolean {
    return this.#cache.delete(key);
  }

  clear(): void {
    this.#cache.clear();
  }

  get size(): number {
    return this.#cache.size;
  }

  /** How many entries it has room for now (for tests). */
  get capacity(): number {
    return this.#cache.max;
  }
}
