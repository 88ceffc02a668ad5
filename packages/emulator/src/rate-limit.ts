import type { RateLimit } from "./options.js";

/**
 * Token buckets per key: `rps` tokens a second, at most `burst` held. `take` answers 0 when a
 * request may go, or the seconds until the next token.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  #limit: RateLimit | null;
  readonly #now: () => number;

  constructor(limit: RateLimit | null, now: () => number = () => performance.now()) {
    this.#limit = limit;
    this.#now = now;
  }

  get limit(): RateLimit | null {
    return this.#limit;
  }

  set limit(limit: RateLimit | null) {
    this.#limit = limit;
    this.refill();
  }

  /** Forgets every bucket, so each key starts full again. */
  refill(): void {
    this.#buckets.clear();
  }

  /** Takes a token for `key`; returns 0 on success or the wait in seconds (fractional). */
  take(key: string): number {
    const limit = this.#limit;
    if (!limit) return 0;
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: limit.burst, at: now };
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.rps);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / limit.rps;
  }

  /**
   * What `key`'s bucket holds after its last `take`, as the IETF draft's headers (FLXBL documents
   * none: the emulator sends them only with `behaviour.rateLimitHeaders`): the policy, `rps` per
   * 1-second window, and what remains, with the seconds until the next token.
   */
  headers(key: string): Record<string, string> {
    const limit = this.#limit;
    const bucket = this.#buckets.get(key);
    if (!limit || !bucket) return {};
    const remaining = Math.floor(bucket.tokens);
    const next = remaining > 0 ? 0 : Math.ceil((1 - bucket.tokens) / limit.rps);
    return {
      "ratelimit-policy": `"bucket";q=${limit.rps};w=1`,
      ratelimit: `"bucket";r=${remaining};t=${next}`,
    };
  }
}
