/**
 * A Map of at most `limit` entries, each kept until its time is up (or for good): setting a key makes it the
 * newest, the oldest entry makes room for a new one, and an entry read after its time is gone. For caches
 * whose worst case must stay bounded (tokens, hints) and whose misses only cost a recomputation.
 */
export class BoundedMap<K, V> {
  readonly #entries = new Map<K, { value: V; untilMs: number }>();
  readonly #limit: number;
  readonly #now: () => number;

  constructor(options: { limit: number; now?: () => number }) {
    this.#limit = options.limit;
    this.#now = options.now ?? Date.now;
  }

  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.untilMs > this.#now()) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  /** Keeps `value` until `untilMs` (epoch ms); a value already out of time is not kept. */
  set(key: K, value: V, untilMs = Number.POSITIVE_INFINITY): void {
    this.#entries.delete(key);
    if (untilMs <= this.#now()) return;
    if (this.#entries.size >= this.#limit) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, untilMs });
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  /** Entries held, including any whose time is up but that were not read since. */
  get size(): number {
    return this.#entries.size;
  }
}
