/**
 * A per-field problem FLXBL reports with a 400/422, on {@link FlxblValidationError.fieldErrors}.
 *
 * @example
 * ```ts
 * const problem: FieldError = { field: "total", message: "must be a number", expectedType: "number", actualValue: "12" };
 * ```
 */
export interface FieldError {
  field: string;
  message: string;
  expectedType?: string;
  actualValue?: unknown;
}

/**
 * Where a failed call went: method, path (no host, no query values that could hold data).
 *
 * @example
 * ```ts
 * const site: CallSite = { method: "PATCH", path: "/dynamic/Order/ord_1" };
 * ```
 */
export interface CallSite {
  method: string;
  path: string;
}

/**
 * Base of every error the FLXBL client throws. Carries the method, the path and, when FLXBL
 * answered, the status and FLXBL's own message. Never the API key.
 *
 * @example
 * ```ts
 * try {
 *   await orders.update(orderId, { status: "paid" });
 * } catch (err) {
 *   if (err instanceof FlxblError) logger.warn("FLXBL call failed", { path: err.path, status: err.status, transient: err.transient });
 *   throw err;
 * }
 * ```
 */
export class FlxblError extends Error {
  override name = "FlxblError";
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  readonly flxblMessage: string | undefined;

  constructor(
    site: CallSite,
    summary: string,
    options: { status?: number; flxblMessage?: string; cause?: unknown } = {},
  ) {
    const detail = options.flxblMessage ? `: ${options.flxblMessage}` : "";
    const status = options.status === undefined ? "" : ` ${options.status}`;
    super(`FLXBL ${site.method} ${site.path}${status} ${summary}${detail}`, { cause: options.cause });
    this.method = site.method;
    this.path = site.path;
    this.status = options.status;
    this.flxblMessage = options.flxblMessage;
  }

  /** Whether sending the same request again later may succeed (throttling, outages, timeouts). */
  get transient(): boolean {
    return false;
  }
}

/**
 * 401: the key is missing, unknown, revoked or expired.
 *
 * @example
 * ```ts
 * await orders.get(orderId).catch((err) => {
 *   // Refused even after the key source's refresh (when it has one): re-provision the function's key.
 *   if (err instanceof FlxblAuthError) logger.error("FLXBL refused the API key", { path: err.path });
 *   throw err;
 * });
 * ```
 */
export class FlxblAuthError extends FlxblError {
  override name = "FlxblAuthError";
}

/**
 * 403: the key is valid but no scope covers the request.
 *
 * @example
 * ```ts
 * await orders.update(orderId, { status: "paid" }).catch((err) => {
 *   // The manifest declares the scope (or FlxblScopeError would have stopped the call), the key lacks it.
 *   if (err instanceof FlxblForbiddenError) logger.error("key lacks a scope; re-provision it", { path: err.path });
 *   throw err;
 * });
 * ```
 */
export class FlxblForbiddenError extends FlxblError {
  override name = "FlxblForbiddenError";
}

/**
 * 404: the entity type, record or relationship does not exist. `EntityClient.find` answers
 * `undefined` instead.
 *
 * @example
 * ```ts
 * const order = await orders.get(orderId).catch((err) => {
 *   if (err instanceof FlxblNotFoundError) throw new ClientError(404, `order ${orderId} does not exist`);
 *   throw err;
 * });
 * ```
 */
export class FlxblNotFoundError extends FlxblError {
  override name = "FlxblNotFoundError";
}

/**
 * 400/422: FLXBL refused the request body or query; `fieldErrors` says which fields.
 *
 * @example
 * ```ts
 * await orders.create({ number: "A-1", status: "pending", total: 1999, currency: "eur" }).catch((err) => {
 *   if (err instanceof FlxblValidationError) logger.warn("order rejected", { fields: err.fieldErrors.map((f) => f.field) });
 *   throw err;
 * });
 * ```
 */
export class FlxblValidationError extends FlxblError {
  override name = "FlxblValidationError";
  readonly fieldErrors: FieldError[];
  constructor(
    site: CallSite,
    summary: string,
    options: { status: number; flxblMessage?: string; fieldErrors?: FieldError[] },
  ) {
    super(site, summary, options);
    this.fieldErrors = options.fieldErrors ?? [];
  }
}

/**
 * 409: the write conflicts with existing data.
 *
 * @example
 * ```ts
 * const draft: Product = { sku: "TEE-BLK-M", name: "Tee", price: 2500, stock: 10, lowStockThreshold: 2, active: true };
 * await products.create(draft).catch((err) => {
 *   if (err instanceof FlxblConflictError) logger.warn("product already exists", { reason: err.flxblMessage });
 *   throw err;
 * });
 * ```
 */
export class FlxblConflictError extends FlxblError {
  override name = "FlxblConflictError";
}

/** An answer worth retrying later (429, 5xx), with FLXBL's `Retry-After` when it sent one. */
abstract class FlxblAnswerToRetry extends FlxblError {
  readonly retryAfterMs: number | undefined;
  constructor(
    site: CallSite,
    summary: string,
    options: { status: number; flxblMessage?: string; retryAfterMs?: number },
  ) {
    super(site, summary, options);
    this.retryAfterMs = options.retryAfterMs;
  }
  override get transient(): boolean {
    return true;
  }
}

/**
 * 429: throttled. `retryAfterMs` is FLXBL's `Retry-After` when it sent one. Thrown once the
 * client's own retries are spent.
 *
 * @example
 * ```ts
 * const waitMs = err instanceof FlxblRateLimitError ? (err.retryAfterMs ?? 1000) : 0;
 * ```
 */
export class FlxblRateLimitError extends FlxblAnswerToRetry {
  override name = "FlxblRateLimitError";
}

/**
 * 5xx: FLXBL (or something in front of it) failed. `retryAfterMs` when a 503 said so.
 *
 * @example
 * ```ts
 * if (err instanceof FlxblServerError) {
 *   throw new RetryLaterError("FLXBL is failing", Math.ceil((err.retryAfterMs ?? 5000) / 1000), { cause: err });
 * }
 * ```
 */
export class FlxblServerError extends FlxblAnswerToRetry {
  override name = "FlxblServerError";
}

/**
 * The request failed below HTTP (refused, reset, DNS). `outcomeUnknown` when it may have been applied.
 *
 * @example
 * ```ts
 * const draft: Order = { number: "A-1", status: "pending", total: 1999, currency: "eur" };
 * const created = await orders.create(draft).catch(async (err) => {
 *   // The create may have landed: look for it before sending it again.
 *   if (err instanceof FlxblNetworkError && err.outcomeUnknown) {
 *     const [found] = await orders.query({ where: { number: draft.number }, limit: 1 });
 *     if (found) return found;
 *   }
 *   throw err;
 * });
 * ```
 */
export class FlxblNetworkError extends FlxblError {
  override name = "FlxblNetworkError";
  readonly outcomeUnknown: boolean;
  constructor(site: CallSite, summary: string, options: { cause?: unknown; outcomeUnknown: boolean }) {
    super(site, summary, options);
    this.outcomeUnknown = options.outcomeUnknown;
  }
  override get transient(): boolean {
    return true;
  }
}

/**
 * The call ran out of time: the Lambda deadline (minus the safety margin) left no room for the
 * request or for the next retry, or the caller's abort signal fired. `cause` is the last
 * failure when there was one.
 *
 * @example
 * ```ts
 * await orders.get(orderId, { signal: AbortSignal.timeout(2000) }).catch((err) => {
 *   if (err instanceof FlxblTimeoutError) logger.warn("FLXBL did not answer in time", { outcomeUnknown: err.outcomeUnknown });
 *   throw err;
 * });
 * ```
 */
export class FlxblTimeoutError extends FlxblError {
  override name = "FlxblTimeoutError";
  readonly retryAfterMs: number | undefined;
  /** Whether the request was sent and may have been applied (no answer came in time). */
  readonly outcomeUnknown: boolean;
  constructor(
    site: CallSite,
    summary: string,
    options: { cause?: unknown; retryAfterMs?: number; outcomeUnknown?: boolean } = {},
  ) {
    super(site, summary, options);
    this.retryAfterMs = options.retryAfterMs;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }
  override get transient(): boolean {
    return true;
  }
}

/**
 * The function's declared scopes do not cover this call, so it was not sent: add the scope
 * to the function's manifest entry (and its key) or drop the call.
 *
 * @example
 * ```ts
 * const flxbl = createFlxblClient({ baseUrl: env.FLXBL_URL, apiKey: loader.apiKeySource(), scopes: ["entity:Order:read"] });
 * await flxbl.entity<Order>("Order").delete(orderId); // throws FlxblScopeError, missingScope "entity:Order:delete"
 * ```
 */
export class FlxblScopeError extends FlxblError {
  override name = "FlxblScopeError";
  readonly missingScope: string;
  constructor(site: CallSite, missingScope: string, declared: readonly string[]) {
    super(
      site,
      `is outside this function's scopes: needs ${missingScope}, declared [${declared.join(", ")}]. Add it to the manifest entry or drop the call`,
    );
    this.missingScope = missingScope;
  }
}

/**
 * FLXBL answered 2xx with a body the client cannot read (not JSON, or the wrong shape), or
 * with a status the client has no error for (a 3xx, a 405).
 *
 * @example
 * ```ts
 * // A proxy answering 200 with an HTML page:
 * await orders.get("ord_1"); // throws FlxblResponseError: FLXBL GET /dynamic/Order/ord_1 200 answered with a body that is not JSON
 * ```
 */
export class FlxblResponseError extends FlxblError {
  override name = "FlxblResponseError";
}

/**
 * Whether a failed call is worth sending again later, and after how long: the one answer the
 * client's backoff, the job runner and the HTTP error middleware share. `retryable` for every
 * transient FLXBL error (429, 5xx, network failures, timeouts, aborts); `afterMs` when FLXBL sent
 * `Retry-After` (429, 5xx) or the client gave up at the deadline before a wait it had planned
 * ({@link FlxblTimeoutError}). Wait at least `afterMs`; without it, pick your own backoff.
 * Anything else is not retryable. Whether a write may be sent twice stays the caller's call.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from "node:timers/promises";
 *
 * const { retryable, afterMs } = retryAdvice(err);
 * if (!retryable) throw err;
 * await sleep(Math.max(afterMs ?? 0, 500));
 * // a 429 with Retry-After: 2 -> { retryable: true, afterMs: 2000 }; without it -> { retryable: true }
 * // a 503 with Retry-After: 5 -> { retryable: true, afterMs: 5000 }; a refused connection -> { retryable: true }
 * // a 404, a 401, a scope error, a TypeError -> { retryable: false }
 * ```
 */
export function retryAdvice(err: unknown): RetryAdvice {
  if (!(err instanceof FlxblError) || !err.transient) return { retryable: false };
  const afterMs = err instanceof FlxblAnswerToRetry || err instanceof FlxblTimeoutError ? err.retryAfterMs : undefined;
  return afterMs === undefined ? { retryable: true } : { retryable: true, afterMs };
}

/**
 * What {@link retryAdvice} answers.
 *
 * @example
 * ```ts
 * const advice: RetryAdvice = retryAdvice(err); // e.g. { retryable: true, afterMs: 2000 }
 * ```
 */
export interface RetryAdvice {
  /** Whether sending the same request again later may succeed. */
  retryable: boolean;
  /** The shortest wait before that, when one is known (FLXBL's `Retry-After`). */
  afterMs?: number;
}

/**
 * Reads `Retry-After` as milliseconds: delta-seconds or an HTTP date (counted from `now`).
 * Internal: not exported from the package.
 *
 * @example
 * ```ts
 * parseRetryAfter(new Headers({ "retry-after": "1.5" }), Date.now()); // 1500
 * ```
 */
export function parseRetryAfter(headers: Headers, now: number): number | undefined {
  const value = headers.get("retry-after");
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * FLXBL's message and field errors from an error body. `message` may be a string or a string[]
 * (NestJS validation); a body that is not JSON at all (a proxy's page) gives its first 200
 * characters. Internal: not exported from the package.
 *
 * @example
 * ```ts
 * readErrorBody('{"message":["total must be a number"]}'); // { message: "total must be a number", fieldErrors: [] }
 * ```
 */
export function readErrorBody(text: string): { message: string | undefined; fieldErrors: FieldError[] } {
  try {
    const body = JSON.parse(text) as { message?: unknown; errors?: unknown; error?: unknown };
    const raw = body.message ?? body.error;
    const message = Array.isArray(raw) ? raw.map(String).join("; ") : typeof raw === "string" ? raw : undefined;
    const fieldErrors = Array.isArray(body.errors)
      ? body.errors.filter((e): e is FieldError => typeof e === "object" && e !== null && "field" in e)
      : [];
    return { message, fieldErrors };
  } catch {
    const trimmed = text.trim().slice(0, 200);
    return { message: trimmed === "" ? undefined : trimmed, fieldErrors: [] };
  }
}

/**
 * The error for a FLXBL answer that is not a success (4xx, 5xx, or an unexpected status), with
 * FLXBL's message, field errors and `Retry-After`. Internal: not exported from the package.
 *
 * @example
 * ```ts
 * const answer = { status: 429, headers: new Headers({ "retry-after": "2" }), text: '{"message":"slow down"}' };
 * errorFor({ method: "GET", path: "/dynamic/Order" }, answer, Date.now()); // FlxblRateLimitError, retryAfterMs 2000
 * ```
 */
export function errorFor(
  site: CallSite,
  answer: { status: number; headers: Headers; text: string },
  now: number,
): FlxblError {
  const { message, fieldErrors } = readErrorBody(answer.text);
  const status = answer.status;
  const opts = { status, flxblMessage: message };
  if (status === 401) return new FlxblAuthError(site, "was refused: the API key is missing, unknown or revoked", opts);
  if (status === 403) return new FlxblForbiddenError(site, "was refused: the API key lacks the scope", opts);
  if (status === 404) return new FlxblNotFoundError(site, "found nothing", opts);
  if (status === 409) return new FlxblConflictError(site, "conflicts with existing data", opts);
  if (status === 400 || status === 422)
    return new FlxblValidationError(site, "was rejected as invalid", { ...opts, fieldErrors });
  const retryAfterMs = parseRetryAfter(answer.headers, now);
  if (status === 429) return new FlxblRateLimitError(site, "was rate limited", { ...opts, retryAfterMs });
  if (status >= 500) return new FlxblServerError(site, "failed on the server", { ...opts, retryAfterMs });
  return new FlxblResponseError(site, "answered with an unexpected status", opts);
}
