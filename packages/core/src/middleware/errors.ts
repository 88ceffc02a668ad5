/**
 * An error whose status and message may reach the caller (4xx): bad input, bad signature,
 * body too large. Anything else a handler throws is answered generically.
 *
 * @example
 * ```ts
 * throw new ClientError(400, "data.object.metadata.orderId is required");
 * ```
 */
export class ClientError extends Error {
  override name = "ClientError";
  /** Always true: middy's and `http-errors`' convention for "safe to show". */
  readonly expose = true;
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    if (statusCode < 400 || statusCode > 499) throw new RangeError(`ClientError needs a 4xx status, got ${statusCode}`);
  }
}

/**
 * The work cannot be done now but may be later (a duplicate still in progress, an upstream
 * outage): answered 503 with `Retry-After`, so the sender retries and nothing is lost.
 *
 * @example
 * ```ts
 * throw new RetryLaterError(`order ${orderId} is being changed by another invocation`, 1); // 503, Retry-After: 1
 * ```
 */
export class RetryLaterError extends Error {
  override name = "RetryLaterError";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
