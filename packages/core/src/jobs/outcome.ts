import type { InvocationOutcome } from "../lambda.js";
import { metricNames } from "../observe/catalog.js";
import { JobFailedError, type JobSummary } from "./runner.js";

/**
 * A job invocation's metrics, from its summary (the answer, or a {@link JobFailedError}'s):
 * one run; records scanned, changed, failed and throttled; its seconds; complete, or incomplete
 * (a checkpoint left for the next invocation); failed when it threw (Lambda retries it). A run
 * another invocation owns counts only as a run. `jobHandler` passes it.
 *
 * @example
 * ```ts
 * const handler = flxblHandler({ spec: expireStaleOrders, env, outcome: jobOutcome }, async () => ({ scanned: 0 }));
 * ```
 */
export const jobOutcome: InvocationOutcome = (request, metrics) => {
  const names = metricNames.job;
  metrics.count(names.runs);
  if (request.error !== undefined && request.error !== null) metrics.count(names.errors);
  const summary =
    request.error instanceof JobFailedError ? request.error.summary : (request.response as JobSummary | undefined);
  if (!summary || typeof summary !== "object" || typeof summary.scanned !== "number" || summary.skipped) return;
  metrics.count(names.scanned, summary.scanned);
  metrics.count(names.changed, summary.changed);
  metrics.count(names.failed, summary.failed);
  metrics.count(names.throttled, summary.throttled);
  metrics.value(names.seconds, "Seconds", summary.durationMs / 1000);
  metrics.count(summary.complete ? names.complete : names.incomplete);
};
