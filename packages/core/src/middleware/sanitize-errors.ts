import type { MiddlewareObj } from "@middy/core";
import { sanitizeError } from "../log/sanitize-error.js";

/**
 * middy middleware that redacts an error before it leaves the handler: what the Lambda runtime
 * prints (`errorType`, `errorMessage`, the stack) and what a failure destination or dead-letter
 * queue keeps is never passed through the logger's redaction, so the error's message, stack,
 * cause chain and properties are redacted here instead. Use it first, so its `onError` runs last.
 *
 * @example
 * ```ts
 * import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
 * import middy from "@middy/core";
 *
 * export const handler = middy(async () => orders.list()).use(sanitizeErrors()).use(injectLambdaContext(logger));
 * ```
 */
export function sanitizeErrors(): MiddlewareObj {
  const sanitizeErrorsMiddlewareOnError = (request: { error: unknown }) => {
    if (request.error !== undefined && request.error !== null) request.error = sanitizeError(request.error) as Error;
  };
  return { name: "sanitizeErrors", onError: sanitizeErrorsMiddlewareOnError };
}
