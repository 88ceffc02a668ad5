import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@aws-lambda-powertools/logger";
import { metricNames } from "../observe/catalog.js";
import type { FlxblCallFacts, InvocationMetrics } from "../observe/telemetry.js";
import { EntityClient } from "./entity.js";
import {
  type CallSite,
  errorFor,
  FlxblAuthError,
  type FlxblError,
  FlxblNetworkError,
  FlxblRateLimitError,
  FlxblResponseError,
  FlxblScopeError,
  FlxblTimeoutError,
  retryAdvice,
} from "./errors.js";
import { type KeyPacer, PaceDeadlineError, pacerFor } from "./pacer.js";
import type { PaceTicket, PacingSnapshot } from "./rate-controller.js";
import { type AttemptFailure, decideRetry, type RetryOptions, type RetrySettings, retrySettings } from "./retry.js";
import { grants, scopeFor } from "./scopes.js";
import type { RequestSpec } from "./send.js";
import { type Answer, AttemptError, sendAttempt } from "./transport.js";

// Kept importable from here, where they were declared before the client was split.
export { EntityClient } from "./entity.js";
export { RelationshipClient } from "./relationship.js";
export type { RetryOptions } from "./retry.js";

/**
 * Where the client gets its API key. `refresh` is called once when FLXBL answers 401 with
 * `rejectedKey`, so a rotated key is picked up without failing the call.
 *
 * @example
 * ```ts
 * const fixed: ApiKeySource = { get: async () => "flxbl_..." };
 * const rotating: ApiKeySource = secretLoader({ secretId: env.FLXBL_SECRET_ARN }).apiKeySource();
 * ```
 */
export interface ApiKeySource {
  get(): Promise<string>;
  refresh?(rejectedKey: string): Promise<string>;
}

/**
 * What the client logs with: retries and refreshes, never the key. A Powertools Logger.
 *
 * @example
 * ```ts
 * const logger: ClientLogger = createLogger({ serviceName: "expire-stale-orders" });
 * const flxbl = createFlxblClient({ baseUrl: env.FLXBL_URL, apiKey: loader.apiKeySource(), logger });
 * ```
 */
export type ClientLogger = Pick<Logger, "debug" | "warn">;

/**
 * How to build a client. Only `baseUrl` and `apiKey` are required.
 *
 * @example
 * ```ts
 * const options: FlxblClientOptions = {
 *   baseUrl: env.FLXBL_URL,
 *   apiKey: secretLoader({ secretId: env.FLXBL_SECRET_ARN }).apiKeySource(),
 *   scopes: ["entity:Order:read"],
 *   retry: { attempts: 3 },
 * };
 * const flxbl = createFlxblClient(options);
 * ```
 */
export interface FlxblClientOptions {
  /** FLXBL's API base, e.g. `https://api.flxbl.dev/api/v1` (the `FLXBL_URL` of a function). */
  baseUrl: string;
  /** The key itself, or where to get it (see {@link ApiKeySource}). */
  apiKey: string | ApiKeySource;
  /**
   * The scopes the function declared. When set, a call none of them grants throws
   * {@link FlxblScopeError} before anything is sent. @default undefined (no guard)
   */
  scopes?: readonly string[];
  /** @default globalThis.fetch (undici: pooled keep-alive connections, reused across warm invocations) */
  fetch?: typeof fetch;
  /** Retries of transient failures; each field has its own default (see {@link RetryOptions}). */
  retry?: RetryOptions;
  /**
   * Epoch milliseconds by which every call must be over, e.g. the Lambda deadline. Calls and
   * retries that would run past `deadline - safetyMarginMs` fail fast with {@link FlxblTimeoutError}.
   * @default undefined (no deadline)
   */
  deadline?: number;
  /** Time kept back before the deadline for the handler to answer. @default 500 */
  safetyMarginMs?: number;
  /** Longest single attempt. @default 10000 */
  attemptTimeoutMs?: number;
  /** Aborts every call of this client (e.g. middy's timeout signal). */
  signal?: AbortSignal;
  /** Where retries and key refreshes are logged. @default undefined (no logging) */
  logger?: ClientLogger;
  /** Random source in [0, 1) for jitter (tests pin it). @default Math.random */
  random?: () => number;
  /** Clock in epoch ms. @default Date.now */
  now?: () => number;
  /**
   * A budget for this key: the client never sends faster than `rps` and paces at it from the
   * first request (the manifest entry's `rateLimit`), so a job leaves room for the webhooks that
   * share the tenant's limit. Without it the key is still paced, at what FLXBL's rate-limit
   * headers advertise or what its 429s teach. @default undefined (no budget)
   */
  rateLimit?: { rps: number };
  /**
   * Where this client's calls are counted (latency, retries, 429s, key refreshes by operation) and
   * traced: `flxblHandler` binds each invocation's. @default undefined (not counted)
   */
  metrics?: InvocationMetrics;
}

const defaults = {
  safetyMarginMs: 500,
  attemptTimeoutMs: 10_000,
};

/**
 * A typed FLXBL Dynamic API client with retries, rate-limit handling, a deadline and a scope
 * guard. Create one per container and bind it per invocation with {@link FlxblClient.bind}.
 *
 * @example
 * ```ts
 * const flxbl = createFlxblClient({
 *   baseUrl: process.env.FLXBL_URL!,
 *   apiKey: loader.apiKeySource(),
 *   scopes: ["entity:Order:read", "entity:Order:update"],
 * });
 * const orders = flxbl.bind({ deadline: Date.now() + context.getRemainingTimeInMillis() }).entity<Order>("Order");
 * const pending = await orders.query({ where: { status: "pending" }, limit: 50 });
 * ```
 */
export function createFlxblClient(options: FlxblClientOptions): FlxblClient {
  return new FlxblClient(options);
}

/**
 * The FLXBL client: key source, options and connections shared by every entity it hands out.
 * Made by {@link createFlxblClient}; a handler's `context.flxbl` is one bound to the invocation.
 *
 * @example
 * ```ts
 * const flxbl: FlxblClient = createFlxblClient({ baseUrl: env.FLXBL_URL, apiKey: loader.apiKeySource() });
 * const order = await flxbl.entity<Order>("Order").get(orderId);
 * ```
 */
export class FlxblClient {
  readonly #options: FlxblClientOptions;
  /** Shared with every client bound from this one: the key last used and its pacer. */
  readonly #shared: { pacer?: KeyPacer; key?: string };
  readonly #base: string;
  readonly #keys: ApiKeySource;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #random: () => number;

  /** Use {@link createFlxblClient}. */
  constructor(options: FlxblClientOptions, shared: { pacer?: KeyPacer; key?: string } = {}) {
    if (!/^https?:\/\//.test(options.baseUrl))
      throw new TypeError(`FLXBL baseUrl must be an http(s) URL, got "${options.baseUrl}"`);
    const budget = options.rateLimit?.rps;
    if (options.rateLimit !== undefined && !(typeof budget === "number" && Number.isFinite(budget) && budget > 0))
      throw new TypeError(`FLXBL rateLimit.rps must be a positive number of requests per second, got ${budget}`);
    this.#options = options;
    this.#shared = shared;
    this.#base = options.baseUrl.replace(/\/+$/, "");
    const key = options.apiKey;
    this.#keys = typeof key === "string" ? { get: async () => key } : key;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** The scopes this client guards with, if any. */
  get scopes(): readonly string[] | undefined {
    return this.#options.scopes;
  }

  /**
   * A client sharing this one's key source and connections, with a deadline, an abort signal
   * and the metrics of one invocation.
   *
   * @example
   * ```ts
   * const perCall = client.bind({ deadline: Date.now() + context.getRemainingTimeInMillis(), signal: AbortSignal.timeout(5_000) });
   * ```
   */
  bind(binding: { deadline?: number; signal?: AbortSignal; metrics?: InvocationMetrics }): FlxblClient {
    return new FlxblClient({ ...this.#options, apiKey: this.#keys, ...binding }, this.#shared);
  }

  /**
   * The rate controller's state for the key this client (or the client it was bound from) last
   * sent with: the paced rate and what sets it, a `Retry-After` hold, callers waiting, totals.
   * One controller per key is shared by every client and caller in the container. Undefined
   * before the first call.
   *
   * @example
   * ```ts
   * await orders.list();
   * const pacing = client.pacing(); // e.g. { rps: 48.5, source: "headers", blockedUntil: 0, waiting: 0, ... }
   * ```
   */
  pacing(): PacingSnapshot | undefined {
    return this.#shared.pacer?.snapshot();
  }

  /**
   * Typed access to one entity's Dynamic API. Names are case-sensitive (`Order`, not `orders`).
   *
   * @example
   * ```ts
   * const order = await client.entity<Order>("Order").get(orderId);
   * ```
   */
  entity<T extends object>(name: string): EntityClient<T> {
    return new EntityClient<T>(this, name);
  }

  /**
   * Sends one request with the scope guard, retries and deadline; resolves to the parsed body.
   * Each attempt: time left before the cutoff, the key (re-read once after a 401), one
   * {@link sendAttempt}, the answer read or turned into an error ({@link errorFor}), then the
   * retry policy ({@link decideRetry}) decides whether to back off and send again.
   */
  request<R>(spec: RequestSpec): Promise<R> {
    // In a handler, the call is counted (latency, retries, 429s) and traced under its operation.
    const metrics = this.#options.metrics;
    if (!metrics) return this.#request<R>(spec, undefined);
    return metrics.flxblCall(spec.need, spec.method, (facts) => this.#request<R>(spec, facts));
  }

  async #request<R>(spec: RequestSpec, facts: FlxblCallFacts | undefined): Promise<R> {
    const site: CallSite = { method: spec.method, path: spec.path };
    const { scopes } = this.#options;
    if (scopes && !grants(scopes, spec.need)) throw new FlxblScopeError(site, scopeFor(spec.need), scopes);

    const retry = retrySettings(this.#options.retry);
    const margin = this.#options.safetyMarginMs ?? defaults.safetyMarginMs;
    const cutoff = this.#options.deadline === undefined ? Number.POSITIVE_INFINITY : this.#options.deadline - margin;
    const signals = [spec.signal, this.#options.signal].filter((s): s is AbortSignal => s !== undefined);
    const caller = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    const url = this.#url(spec);
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);

    let lastError: FlxblError | undefined;
    let refreshed = false;
    let freshKey: string | undefined;
    for (let attempt = 1; attempt <= retry.attempts; attempt++) {
      const left = cutoff - this.#now();
      if (left <= 0) {
        throw new FlxblTimeoutError(site, "was not sent: no time left before the deadline", {
          cause: lastError,
          retryAfterMs: retryAdvice(lastError).afterMs,
        });
      }
      if (caller?.aborted) throw new FlxblTimeoutError(site, "was aborted by the caller", { cause: lastError });
      const key = freshKey ?? (await this.#keys.get());
      freshKey = undefined;
      const pacer = this.#pacer(key);
      const ticket = await this.#turn(site, pacer, cutoff, caller, attempt > 1, lastError);
      const sendLeft = cutoff - this.#now();

      let answer: Answer;
      if (facts) facts.attempts++;
      try {
        answer = await sendAttempt(this.#fetch, {
          url,
          method: spec.method,
          key,
          body,
          timeoutMs: Math.max(1, Math.min(sendLeft, this.#options.attemptTimeoutMs ?? defaults.attemptTimeoutMs)),
          signal: caller,
          write: spec.need.op !== "read",
          onUnknownOutcome: spec.onUnknownOutcome,
        });
      } catch (err) {
        // Anything else was thrown by the caller's own onUnknownOutcome: theirs to see as is.
        if (!(err instanceof AttemptError)) throw err;
        if (err.kind === "aborted")
          throw new FlxblTimeoutError(site, "was aborted by the caller", { cause: err.cause });
        lastError =
          err.kind === "timeout"
            ? new FlxblTimeoutError(site, "got no answer in time", { cause: err.cause, outcomeUnknown: true })
            : new FlxblNetworkError(site, `could not reach FLXBL (${err.detail})`, {
                cause: err.cause,
                outcomeUnknown: err.mayHaveArrived,
              });
        await this.#backoff(site, attempt, retry, spec.idempotent, lastError, cutoff, caller);
        continue;
      }

      pacer.answered(ticket, answer.status, answer.headers);
      if (facts) {
        facts.status = answer.status;
        if (answer.status === 429) facts.throttled++;
      }
      if (answer.status >= 200 && answer.status < 300) return parseBody<R>(site, answer);
      if (answer.status >= 300 && answer.status < 400) {
        throw new FlxblResponseError(site, "answered a redirect; not followed, so the API key goes nowhere else", {
          status: answer.status,
        });
      }
      const error = errorFor(site, answer, this.#now());
      if (error instanceof FlxblAuthError && this.#keys.refresh && !refreshed) {
        // The key may have been rotated since it was cached: re-read the secret once.
        refreshed = true;
        const fresh = await this.#keys.refresh(key);
        if (fresh !== key) {
          freshKey = fresh;
          this.#options.metrics?.count(metricNames.keys.refreshes);
          this.#options.logger?.warn("FLXBL refused the cached API key; retrying with the refreshed secret", {
            ...site,
          });
          attempt--;
          continue;
        }
      }
      lastError = error;
      await this.#backoff(site, attempt, retry, spec.idempotent, error, cutoff, caller, pacer);
    }
    throw lastError ?? new FlxblResponseError(site, "was not attempted");
  }

  /** The container's pacer for `key`, with this client's budget applied; remembered for {@link pacing}. */
  #pacer(key: string): KeyPacer {
    const shared = this.#shared;
    // The same key as the last call (nearly always): no hash to take.
    if (shared.pacer && shared.key === key) return shared.pacer;
    const pacer = pacerFor(this.#base, key);
    // The controller keeps the lowest budget declared for the key.
    pacer.controller.budget = this.#options.rateLimit?.rps;
    shared.pacer = pacer;
    shared.key = key;
    return pacer;
  }

  /** Waits for this call's turn at the key's pace; a turn past the cutoff or an abort is a timeout. */
  async #turn(
    site: CallSite,
    pacer: KeyPacer,
    cutoff: number,
    caller: AbortSignal | undefined,
    retry: boolean,
    lastError: FlxblError | undefined,
  ): Promise<PaceTicket> {
    try {
      return await pacer.acquire({ signal: caller, cutoff, urgent: retry });
    } catch (err) {
      if (err instanceof PaceDeadlineError)
        throw new FlxblTimeoutError(
          site,
          `was not sent: its turn at the key's rate limit (in ${Math.round(err.waitMs)} ms) would pass the deadline`,
          {
            cause: lastError,
            retryAfterMs: Math.max(Math.round(err.waitMs), retryAdvice(lastError).afterMs ?? 0),
          },
        );
      // The signal's reason (a lost lock, middy's timeout) says more than the last failure.
      throw new FlxblTimeoutError(site, "was aborted by the caller", { cause: err instanceof Error ? err : lastError });
    }
  }

  #url(spec: RequestSpec): string {
    const url = `${this.#base}${spec.path}`;
    const query = Object.entries(spec.query ?? {}).filter(([, v]) => v !== undefined);
    if (query.length === 0) return url;
    return `${url}?${new URLSearchParams(query.map(([k, v]): [string, string] => [k, String(v)]))}`;
  }

  /**
   * Waits before the next attempt, as the retry policy says, or throws: `error` itself when it
   * may not be retried or the attempts are spent, a {@link FlxblTimeoutError} when the wait would
   * pass the deadline or the caller aborts it.
   */
  async #backoff(
    site: CallSite,
    attempt: number,
    settings: RetrySettings,
    idempotent: boolean,
    error: FlxblError,
    cutoff: number,
    caller: AbortSignal | undefined,
    pacer?: KeyPacer,
  ): Promise<void> {
    // A 429 holds the whole key in its pacer (until its Retry-After): the next attempt waits there
    // for its turn, with every other caller, and sleeps here only for backoff beyond that turn.
    const turnMs = pacer !== undefined && error instanceof FlxblRateLimitError ? pacer.delayMs(0) : 0;
    const decision = decideRetry({
      attempt,
      settings,
      random: this.#random,
      failure: failureOf(error),
      idempotent,
      floorMs: Math.max(turnMs, retryAdvice(error).afterMs ?? 0) || undefined,
      leftMs: cutoff - this.#now(),
    });
    if (decision.action === "stop") {
      if (decision.reason !== "deadline") throw error;
      throw new FlxblTimeoutError(site, `gave up: the next retry (in ${decision.waitMs} ms) would pass the deadline`, {
        cause: error,
        retryAfterMs: decision.retryAfterMs,
      });
    }
    const wait = decision.waitMs;
    this.#options.logger?.debug("retrying FLXBL call", { ...site, attempt, waitMs: wait, status: error.status });
    if (wait <= turnMs) return;
    try {
      await sleep(wait - turnMs, undefined, { signal: caller });
    } catch (err) {
      throw new FlxblTimeoutError(site, "was aborted by the caller", { cause: err });
    }
  }
}

/** The retry policy's view of an error the client built from a failed attempt. */
function failureOf(error: FlxblError): AttemptFailure {
  if (error instanceof FlxblNetworkError) return { kind: "network", mayHaveArrived: error.outcomeUnknown };
  if (error instanceof FlxblTimeoutError) return { kind: "timeout" };
  return { kind: "status", status: error.status ?? 0 };
}

/** A 2xx body: nothing (204, empty) is `undefined`; anything else must be JSON. */
function parseBody<R>(site: CallSite, answer: Answer): R {
  if (answer.status === 204 || answer.text.trim() === "") return undefined as R;
  try {
    return JSON.parse(answer.text) as R;
  } catch (err) {
    throw new FlxblResponseError(site, "answered with a body that is not JSON", { status: answer.status, cause: err });
  }
}
