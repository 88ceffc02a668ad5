/**
 * Retry policy for transient failures (429, 5xx, network).
 *
 * @example
 * ```ts
 * const retry: RetryOptions = { attempts: 3, maxDelayMs: 2000 };
 * const flxbl = createFlxblClient({ baseUrl: env.FLXBL_URL, apiKey: loader.apiKeySource(), retry });
 * ```
 */
export interface RetryOptions {
  /** Attempts in all, the first included. @default 4 */
  attempts?: number;
  /** Backoff base: attempt n waits a random time in [0, base * 2^(n-1)] (full jitter). @default 100 */
  baseDelayMs?: number;
  /** Cap on one backoff wait (a longer `Retry-After` still wins). @default 5000 */
  maxDelayMs?: number;
}

/**
 * {@link RetryOptions} with every default applied; `attempts` is at least 1.
 *
 * @example
 * ```ts
 * const settings: RetrySettings = retrySettings({ attempts: 2 }); // { attempts: 2, baseDelayMs: 100, maxDelayMs: 5000 }
 * ```
 */
export type RetrySettings = Required<RetryOptions>;

/**
 * Fills in the defaults of {@link RetryOptions}.
 *
 * @example
 * ```ts
 * retrySettings(undefined); // { attempts: 4, baseDelayMs: 100, maxDelayMs: 5000 }
 * ```
 */
export function retrySettings(options: RetryOptions | undefined): RetrySettings {
  return {
    attempts: Math.max(1, options?.attempts ?? 4),
    baseDelayMs: options?.baseDelayMs ?? 100,
    maxDelayMs: options?.maxDelayMs ?? 5_000,
  };
}

/**
 * What went wrong with one attempt, as far as retrying goes: FLXBL answered with a status, the
 * attempt failed below HTTP (`mayHaveArrived` unless the connection surely never opened), or no
 * answer came within the attempt's time.
 *
 * @example
 * ```ts
 * const throttled: AttemptFailure = { kind: "status", status: 429 };
 * const refused: AttemptFailure = { kind: "network", mayHaveArrived: false };
 * ```
 */
export type AttemptFailure =
  | { kind: "status"; status: number }
  | { kind: "network"; mayHaveArrived: boolean }
  | { kind: "timeout" };

/**
 * Everything {@link decideRetry} weighs. All plain values, so the policy is a pure function.
 *
 * @example
 * ```ts
 * const input: RetryInput = {
 *   attempt: 1, settings: retrySettings({}), random: Math.random,
 *   failure: { kind: "status", status: 503 }, idempotent: true, floorMs: 2000, leftMs: 9000,
 * };
 * ```
 */
export interface RetryInput {
  /** The attempt that just failed, the first being 1. */
  attempt: number;
  settings: RetrySettings;
  /** Random source in [0, 1) for the jitter. */
  random: () => number;
  failure: AttemptFailure;
  /** Whether sending the request twice is harmless. */
  idempotent: boolean;
  /** FLXBL's `Retry-After`, in ms, when it sent one: the wait is never shorter. */
  floorMs?: number | undefined;
  /** Time left before the cutoff (deadline minus safety margin); `Infinity` when there is none. */
  leftMs: number;
}

/**
 * What to do after a failed attempt: wait `waitMs` and send again, or stop. `deadline` means the
 * next attempt would start past the cutoff: the caller throws a timeout carrying `retryAfterMs`
 * (the `Retry-After` floor when there was one, else the planned wait) for its own caller.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from "node:timers/promises";
 *
 * const decision: RetryDecision = decideRetry({
 *   attempt: 2, settings: retrySettings({}), random: Math.random,
 *   failure: { kind: "network", mayHaveArrived: true }, idempotent: true, leftMs: 5_000,
 * });
 * if (decision.action === "retry") await sleep(decision.waitMs);
 * ```
 */
export type RetryDecision =
  | { action: "retry"; waitMs: number }
  | { action: "stop"; reason: "not-retryable" | "attempts-spent" }
  | { action: "stop"; reason: "deadline"; waitMs: number; retryAfterMs: number };

/**
 * Whether this kind of failure may be sent again at all:
 * - 429: always, FLXBL did not apply it;
 * - 5xx: only when idempotent, a create may have been applied before the failure;
 * - network error: when idempotent, or when the connection surely never reached FLXBL;
 * - timeout: only when idempotent, the request went out and may still land;
 * - any other status: never, the same request gets the same answer.
 *
 * @example
 * ```ts
 * mayRetry({ kind: "status", status: 503 }, false); // false: the create may have been applied
 * mayRetry({ kind: "network", mayHaveArrived: false }, false); // true: it never left
 * ```
 */
export function mayRetry(failure: AttemptFailure, idempotent: boolean): boolean {
  switch (failure.kind) {
    case "status":
      return failure.status === 429 || (failure.status >= 500 && idempotent);
    case "network":
      return idempotent || !failure.mayHaveArrived;
    case "timeout":
      return idempotent;
  }
}

/**
 * The retry policy: {@link mayRetry}, then the attempt budget, then the wait: full jitter,
 * a random time in [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))), raised to the
 * `Retry-After` floor, and refused when it would reach the cutoff (sleeping into the deadline
 * would leave the handler no time to answer). `random` is drawn only when a wait is planned.
 *
 * @example
 * ```ts
 * decideRetry({
 *   attempt: 1, settings: retrySettings({}), random: () => 0.5,
 *   failure: { kind: "status", status: 429 }, idempotent: false, leftMs: Infinity,
 * }); // { action: "retry", waitMs: 50 }
 * ```
 */
export function decideRetry(input: RetryInput): RetryDecision {
  const { attempt, settings, failure, idempotent, floorMs, leftMs } = input;
  if (!mayRetry(failure, idempotent)) return { action: "stop", reason: "not-retryable" };
  if (attempt >= settings.attempts) return { action: "stop", reason: "attempts-spent" };
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (attempt - 1));
  const jitter = Math.floor(input.random() * ceiling);
  const waitMs = Math.max(floorMs ?? 0, jitter);
  if (waitMs >= leftMs) return { action: "stop", reason: "deadline", waitMs, retryAfterMs: floorMs ?? waitMs };
  return { action: "retry", waitMs };
}
