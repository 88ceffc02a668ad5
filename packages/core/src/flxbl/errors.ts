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
 * await orders.create(draft).catch((err) => {
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
 * if (err instanceof FlxblRateLimitError) pauseUntil = Date.now() + (err.retryAfterMs ?? 1000);
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
 * const flxbl = createFlxblClient({ baseUrl, apiKey, scopes: ["entity:Order:read"] });
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
