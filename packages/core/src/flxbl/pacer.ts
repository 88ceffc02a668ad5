import { createHash } from "node:crypto";
import { parseRetryAfter } from "./errors.js";
import { type PaceTicket, type PacingSnapshot, RateController } from "./rate-controller.js";
import { parseRateLimitHeaders, type RateLimitReading } from "./rate-headers.js";

/**
 * The clock and timers a {@link KeyPacer} waits with: the real ones by default, a manual one in
 * tests (so nothing depends on the machine's speed).
 *
 * @example
 * ```ts
 * const realClock: PacerClock = { now: Date.now, setTimer: (fn, ms) => setTimeout(fn, ms), clearTimer: (t) => clearTimeout(t as NodeJS.Timeout) };
 * ```
 */
export interface PacerClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

const realClock: PacerClock = {
  now: Date.now,
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/**
 * Thrown by {@link KeyPacer.acquire} when the caller's turn would come at or after its cutoff:
 * `waitMs` is how long it would have waited. The client turns it into a `FlxblTimeoutError`.
 *
 * @example
 * ```ts
 * const pacer = pacerFor(env.FLXBL_URL, "flxbl_...");
 * await pacer.acquire({ cutoff: Date.now() + 100 }).catch((err: unknown) => {
 *   if (err instanceof PaceDeadlineError) logger.warn("no turn before the deadline", { waitMs: err.waitMs });
 *   throw err;
 * });
 * ```
 */
export class PaceDeadlineError extends Error {
  override name = "PaceDeadlineError";
  constructor(readonly waitMs: number) {
    super(`the call's turn (in ${Math.round(waitMs)} ms) would pass its deadline`);
  }
}

interface Waiter {
  resolve(ticket: PaceTicket): void;
  reject(err: unknown): void;
  enqueuedAt: number;
  cutoff: number;
  timer: unknown;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * The queue of callers around one key's {@link RateController}: each call waits for its turn
 * ({@link acquire}), then reports its answer ({@link answered}). One timer per key, armed for
 * the next turn; callers go one at a time in order (a retry ahead of first attempts).
 *
 * @example
 * ```ts
 * const pacer: KeyPacer = pacerFor(env.FLXBL_URL, "flxbl_...");
 * const ticket = await pacer.acquire({ cutoff: Date.now() + 10_000 });
 * const res = await fetch(`${env.FLXBL_URL}/dynamic/Order`, { headers: { authorization: "Bearer flxbl_..." } });
 * pacer.answered(ticket, res.status, res.headers);
 * ```
 */
export class KeyPacer {
  readonly #queue: Waiter[] = [];
  #timer: unknown;
  #waitedMs = 0;
  #answers = 0;
  #headersSeen = false;

  constructor(
    readonly controller: RateController,
    private readonly clock: PacerClock = realClock,
  ) {}

  /**
   * Resolves when the caller may send, with the ticket to report its answer with. Rejects with
   * {@link PaceDeadlineError} when its turn would come at or after `cutoff`, or with the signal's
   * reason when `signal` aborts first. `urgent` (a retry) goes ahead of the calls waiting.
   */
  acquire(options: { signal?: AbortSignal | undefined; cutoff?: number; urgent?: boolean } = {}): Promise<PaceTicket> {
    const now = this.clock.now();
    const cutoff = options.cutoff ?? Number.POSITIVE_INFINITY;
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.#queue.length === 0 && this.controller.nextStart(now) <= now)
      return Promise.resolve(this.controller.started(now));
    const expected = this.expectedStart(now, options.urgent ? 0 : this.#queue.length);
    if (expected >= cutoff) return Promise.reject(new PaceDeadlineError(expected - now));
    return new Promise<PaceTicket>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        enqueuedAt: now,
        cutoff,
        timer: undefined,
        signal: options.signal,
        onAbort: undefined,
      };
      if (Number.isFinite(cutoff))
        waiter.timer = this.clock.setTimer(
          () => this.#drop(waiter, new PaceDeadlineError(cutoff - waiter.enqueuedAt)),
          cutoff - now,
        );
      if (options.signal) {
        const signal = options.signal;
        waiter.onAbort = () => this.#drop(waiter, signal.reason);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      if (options.urgent) this.#queue.unshift(waiter);
      else this.#queue.push(waiter);
      this.#pump();
    });
  }

  /** When a caller with `ahead` callers before it would start, as things stand at `now`. */
  expectedStart(now: number, ahead = this.#queue.length): number {
    const first = this.controller.nextStart(now);
    if (ahead === 0) return first;
    const { rps } = this.controller.rate(first);
    return rps === undefined ? first : first + (ahead * 1000) / rps;
  }

  /** How long a caller with `ahead` callers before it (all that wait, by default) would wait now. */
  delayMs(ahead = this.#queue.length): number {
    const now = this.clock.now();
    return Math.max(0, this.expectedStart(now, ahead) - now);
  }

  /** Reports the answer to a call: its status and headers (`Retry-After`, rate-limit headers). */
  answered(ticket: PaceTicket, status: number, headers: Headers): void {
    const now = this.clock.now();
    // Reading the headers walks all of them (Headers sorts them to iterate): done on every answer
    // of a server that sends rate-limit headers, else on a 429 and on every 16th answer (the first
    // included), so a server that starts sending them is heard within 16 calls.
    let readings: RateLimitReading[] | undefined;
    if (this.#headersSeen || status === 429 || this.#answers++ % 16 === 0) {
      readings = parseRateLimitHeaders(headers, now);
      this.#headersSeen = readings.length > 0;
    }
    this.controller.answered(ticket, now, {
      status,
      retryAfterMs: status === 429 ? parseRetryAfter(headers, now) : undefined,
      readings,
    });
    // The turn of the next caller may have moved (a hold, a new rate).
    if (this.#queue.length > 0) this.#pump();
  }

  /** The controller's state and the queue's, for the runner and for logs. */
  snapshot(): PacingSnapshot {
    const now = this.clock.now();
    const { rps, source } = this.controller.rate(now);
    const { started, throttled } = this.controller.totals;
    const blockedUntil = this.controller.blockedUntil;
    return {
      rps,
      source,
      blockedUntil: blockedUntil > now ? blockedUntil : 0,
      waiting: this.#queue.length,
      started,
      waitedMs: this.#waitedMs,
      throttled,
    };
  }

  #drop(waiter: Waiter, reason: unknown): void {
    const at = this.#queue.indexOf(waiter);
    if (at < 0) return;
    this.#queue.splice(at, 1);
    this.#settle(waiter);
    waiter.reject(reason);
    this.#pump();
  }

  #settle(waiter: Waiter): void {
    if (waiter.timer !== undefined) this.clock.clearTimer(waiter.timer);
    if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
  }

  /** Lets go every caller whose turn has come, then arms the timer for the next turn. */
  #pump(): void {
    if (this.#timer !== undefined) {
      this.clock.clearTimer(this.#timer);
      this.#timer = undefined;
    }
    const now = this.clock.now();
    while (this.#queue.length > 0) {
      const at = this.controller.nextStart(now);
      if (at > now) {
        this.#timer = this.clock.setTimer(
          () => {
            this.#timer = undefined;
            this.#pump();
          },
          Math.max(1, Math.ceil(at - now)),
        );
        return;
      }
      const waiter = this.#queue.shift() as Waiter;
      this.#settle(waiter);
      this.#waitedMs += now - waiter.enqueuedAt;
      waiter.resolve(this.controller.started(now, true));
    }
  }
}

/** Most keys a container keeps controllers for (rotations and tests add keys); the least recently used go first. */
const registryLimit = 64;
const registry = new Map<string, KeyPacer>();

/**
 * The container's pacer for a FLXBL key at a base URL: one per key, shared by every client and
 * caller in the process. Keyed by a SHA-256 of the URL's origin and the key; the key itself is
 * neither kept nor logged.
 *
 * @example
 * ```ts
 * const pacer = pacerFor(env.FLXBL_URL, "flxbl_...");
 * pacer.controller.budget = 20; // the lowest budget declared for the key is kept
 * ```
 */
export function pacerFor(baseUrl: string, apiKey: string): KeyPacer {
  const id = createHash("sha256").update(originOf(baseUrl)).update("\n").update(apiKey).digest("base64url");
  let pacer = registry.get(id);
  if (pacer) {
    // Most recently used last, so the eviction below takes the longest unused.
    registry.delete(id);
  } else {
    pacer = new KeyPacer(new RateController());
    if (registry.size >= registryLimit) {
      const oldest = registry.keys().next().value;
      if (oldest !== undefined) registry.delete(oldest);
    }
  }
  registry.set(id, pacer);
  return pacer;
}

/** Forgets every key's pacer (tests: each starts with keys nothing has been learned of). */
export function resetPacers(): void {
  registry.clear();
}

function originOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).origin;
  } catch {
    return baseUrl;
  }
}
