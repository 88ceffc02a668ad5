import type { Logger } from "@aws-lambda-powertools/logger";
import type { MiddlewareObj } from "@middy/core";
import type { Context } from "aws-lambda";
import { retryAdvice } from "../flxbl/errors.js";
import { SecretUnavailableError } from "../keys/secret-loader.js";
import { StateUnavailableError } from "../state/errors.js";
import { ClientError, RetryLaterError } from "./errors.js";

/**
 * Where {@link httpErrors} logs: a Powertools Logger.
 *
 * @example
 * ```ts
 * const logger: ErrorLogger = createLogger({ serviceName: "payments-webhook" });
 * ```
 */
export type ErrorLogger = Pick<Logger, "warn" | "error">;

/**
 * Options of {@link httpErrors}.
 *
 * @example
 * ```ts
 * const options: HttpErrorsOptions = { logger, defaultRetryAfterSeconds: 10 };
 * handler.use(httpErrors(options));
 * ```
 */
export interface HttpErrorsOptions {
  logger: ErrorLogger;
  /** `Retry-After` when an upstream failure named no wait. @default 5 */
  defaultRetryAfterSeconds?: number;
}

/**
 * An HTTP API (payload v2) response.
 *
 * @example
 * ```ts
 * const accepted: HttpResponse = { statusCode: 202, headers: { "content-type": "application/json" }, body: '{"status":"queued"}' };
 * ```
 */
export interface HttpResponse {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * How an error is answered, by the webhook response rules (core's README). `defaultRetryAfterSeconds` (default 5)
 * is the wait for an upstream failure that named none.
 *
 * @example
 * ```ts
 * classifyError(new ClientError(400, "orderId is required")); // { kind: "client", status: 400, message: "orderId is required" }
 * classifyError(new RetryLaterError("busy", 2)); // { kind: "retry", retryAfterSeconds: 2 }
 * classifyError(new Error("boom")); // { kind: "internal" }
 * ```
 */
export function classifyError(
  err: unknown,
  defaultRetryAfterSeconds = 5,
):
  | { kind: "client"; status: number; message: string; details?: Record<string, unknown> }
  | { kind: "retry"; retryAfterSeconds: number }
  | { kind: "internal" } {
  if (err instanceof ClientError)
    return { kind: "client", status: err.statusCode, message: err.message, details: err.details };
  if (err instanceof RetryLaterError) return { kind: "retry", retryAfterSeconds: err.retryAfterSeconds };
  // FLXBL throttling, outages, timeouts: FLXBL's own Retry-After when it named one, whole seconds.
  const { retryable, afterMs } = retryAdvice(err);
  if (retryable) {
    return {
      kind: "retry",
      retryAfterSeconds: afterMs === undefined ? defaultRetryAfterSeconds : Math.max(1, Math.ceil(afterMs / 1000)),
    };
  }
  if (err instanceof SecretUnavailableError) return { kind: "retry", retryAfterSeconds: defaultRetryAfterSeconds };
  if (err instanceof StateUnavailableError) return { kind: "retry", retryAfterSeconds: defaultRetryAfterSeconds };
  if (isPowertoolsError(err, "IdempotencyAlreadyInProgressError")) return { kind: "retry", retryAfterSeconds: 1 };
  // The id was seen with another payload: a sender bug or a forgery with a reused id. Retrying
  // the same request cannot help, and the first event's stored answer must not be replayed to it.
  if (isPowertoolsError(err, "IdempotencyValidationError"))
    return { kind: "client", status: 409, message: "this event id was already received with a different payload" };
  if (isPowertoolsError(err, "IdempotencyInconsistentStateError")) return { kind: "retry", retryAfterSeconds: 1 };
  // A duplicate's conditional put failed, then the record was gone when read back (its owner failed and
  // released it in between; dynalite returns no item with the failed condition, so Powertools reads again).
  if (isPowertoolsError(err, "IdempotencyItemNotFoundError")) return { kind: "retry", retryAfterSeconds: 1 };
  if (isPowertoolsError(err, "IdempotencyPersistenceLayerError")) {
    // Its cause may name its own wait: a busy lock taken with the record asks for a second.
    const inner = (err as Error).cause;
    const cause = inner === undefined ? undefined : classifyError(inner, defaultRetryAfterSeconds);
    return cause?.kind === "retry" ? cause : { kind: "retry", retryAfterSeconds: defaultRetryAfterSeconds };
  }
  // middy's early timeout: the work did not finish, so the sender should send it again.
  if (err instanceof Error && err.name === "TimeoutError")
    return { kind: "retry", retryAfterSeconds: defaultRetryAfterSeconds };
  return { kind: "internal" };
}

/**
 * Whether `err` is Powertools idempotency's error of that name: told by name, so this middleware,
 * which every function uses, does not import the idempotency package (and its JMESPath) into
 * functions that have no idempotency.
 */
const isPowertoolsError = (err: unknown, name: string): boolean => err instanceof Error && err.name === name;

const isHttpEvent = (event: unknown): boolean =>
  typeof event === "object" && event !== null && "requestContext" in event && "headers" in event;

/**
 * Where {@link httpErrors} leaves, in middy's `request.internal`, the error it answered (and took
 * off `request.error`, so middy returns the answer).
 *
 * @example
 * ```ts
 * const outcome: InvocationOutcome = (request) => {
 *   const answered = request.error ?? request.internal[answeredError]; // what httpErrors turned into a 4xx/5xx
 * };
 * ```
 */
export const answeredError = "httpErrors.answered";

/**
 * middy error middleware implementing the webhook response rules:
 * - {@link ClientError} (4xx): its status and message, e.g. `{"message":"invalid signature"}`;
 * - FLXBL throttling, outages, timeouts, {@link RetryLaterError}: 503 with `Retry-After`;
 * - anything else: 500 `{"message":"Internal error","requestId":...}`, details only in the log.
 *
 * For events that are not HTTP (schedules) it logs and lets the error propagate, so Lambda's
 * retries and the failure destination apply.
 *
 * @example
 * ```ts
 * handler.use(httpErrors({ logger }));
 * ```
 */
export function httpErrors(options: HttpErrorsOptions): MiddlewareObj<unknown, unknown, Error, Context> {
  const { logger } = options;
  const httpErrorsMiddlewareOnError = (request: {
    event: unknown;
    context: Context;
    error: unknown;
    response: unknown;
    internal?: Record<string, unknown>;
  }) => {
    const err = request.error;
    const requestId = request.context?.awsRequestId;
    const outcome = classifyError(err, options.defaultRetryAfterSeconds);
    if (!isHttpEvent(request.event)) {
      logger.error("invocation failed", { error: err as Error, outcome: outcome.kind });
      return;
    }
    const json = { "content-type": "application/json" };
    if (outcome.kind === "client") {
      logger.warn("request refused", { status: outcome.status, reason: outcome.message });
      request.response = {
        statusCode: outcome.status,
        headers: json,
        body: JSON.stringify({ message: outcome.message, ...outcome.details }),
      } satisfies HttpResponse;
    } else if (outcome.kind === "retry") {
      logger.warn("upstream unavailable; asking the sender to retry", {
        error: err as Error,
        retryAfterSeconds: outcome.retryAfterSeconds,
      });
      request.response = {
        statusCode: 503,
        headers: { ...json, "retry-after": String(outcome.retryAfterSeconds) },
        body: JSON.stringify({ message: "Temporarily unavailable, retry later", requestId }),
      } satisfies HttpResponse;
    } else {
      logger.error("request failed", { error: err as Error });
      request.response = {
        statusCode: 500,
        headers: json,
        body: JSON.stringify({ message: "Internal error", requestId }),
      } satisfies HttpResponse;
    }
    // The response is set: middy returns it instead of throwing. The error stays readable for
    // the invocation's metrics (`answeredError`).
    if (request.internal) request.internal[answeredError] = err;
    request.error = undefined;
  };
  return { name: "httpErrors", onError: httpErrorsMiddlewareOnError };
}
