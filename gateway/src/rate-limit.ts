/**
 * Token buckets per caller (an API key, a principal, or an IP address): `perSecond` tokens refill each
 * second up to `burst`. The least recently used callers are forgotten beyond `maxCallers`, so a flood of
 * made-up keys cannot grow memory without bound.
 */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSec: number };

export class RateLimiter {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #maxCallers: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: { perSecond: number; burst: number; maxCallers?: number; now?: () => number }) {
    this.#perSecond = options.perSecond;
    this.#burst = Math.max(1, options.burst);
    this.#maxCallers = options.maxCallers ?? 100_000;
    this.#now = options.now ?? (() => performance.now());
  }

  get enabled(): boolean {
    return this.#perSecond > 0;
  }

  take(caller: string): RateDecision {
    if (!this.enabled) return { allowed: true };
    const now = this.#now();
    const bucket = this.#buckets.get(caller) ?? { tokens: this.#burst, at: now };
    this.#buckets.delete(caller);
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond);
    bucket.at = now;
    this.#buckets.set(caller, bucket);
    if (this.#buckets.size > this.#maxCallers) {
      const oldest = this.#buckets.keys().next();
      if (!oldest.done) this.#buckets.delete(oldest.value);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSec: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perSecond)) };
  }
}
