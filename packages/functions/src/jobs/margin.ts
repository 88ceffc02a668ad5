import { defaultTimeoutEarlyMs } from "@flxbl-lambda/core";

/**
 * How long before the deadline a job stops taking new records: middy's early timeout, plus a
 * tenth of the time the invocation was given (1 to 10 seconds) for in-flight work and the
 * checkpoint write.
 */
export function stopMarginFor(remainingMs: number): number {
  return defaultTimeoutEarlyMs + Math.min(10_000, Math.max(1_000, Math.round(remainingMs / 10)));
}
