/**
 * The metrics every function writes (CloudWatch EMF through Powertools Metrics), by name: the one
 * list the functions, the stacks' dashboard and alarms, and the tests read. Each is written in the
 * app's namespace (`POWERTOOLS_METRICS_NAMESPACE`, the SST app's name) with the dimensions
 * `service` (the function's manifest name) and `stage`; those marked `by` are also written once
 * more per value of that extra dimension (`operation`, `reason`).
 *
 * @example
 * ```ts
 * const name: MetricName = metricNames.webhook.applied; // "WebhookApplied"
 * ```
 */
export const metricNames = {
  webhook: {
    /** Every delivery that reached the function (Count). */
    received: "WebhookReceived",
    /** The event changed a record (body `status: "applied"`). */
    applied: "WebhookApplied",
    /** The event was valid and changed nothing (`status: "unchanged"`). */
    unchanged: "WebhookUnchanged",
    /** An event type or record the function does not handle (`status: "ignored"`). */
    ignored: "WebhookIgnored",
    /** A redelivery answered from its idempotency record. */
    replayed: "WebhookReplayed",
    /** A 2xx whose body names none of the outcomes above. */
    handled: "WebhookHandled",
    /** Refused by its signature check (401); also written by `reason`. */
    signatureRejected: "WebhookSignatureRejected",
    /** Any 4xx answer, signature refusals included. */
    clientErrors: "Webhook4xx",
    /** Any 5xx answer (503 for outages the sender retries). */
    serverErrors: "Webhook5xx",
  },
  job: {
    /** One per invocation of a job (Count). */
    runs: "JobRuns",
    scanned: "JobRecordsScanned",
    changed: "JobRecordsChanged",
    failed: "JobRecordsFailed",
    /** 429 answers the run's FLXBL calls met. */
    throttled: "JobRecordsThrottled",
    /** Wall time of the invocation's work (Seconds). */
    seconds: "JobSeconds",
    /** 1 when the run finished in this invocation (its checkpoint cleared). */
    complete: "JobRunComplete",
    /** 1 when the invocation left a checkpoint for the next one (out of time). */
    incomplete: "JobRunIncomplete",
    /** 1 when the invocation threw (failed records, a crash): Lambda retries it. */
    errors: "JobRunFailed",
  },
  flxbl: {
    /** FLXBL calls made (Count); also written by `operation` (`Order:read`). */
    calls: "FlxblCalls",
    /** Time of each call, retries and waits included (Milliseconds); also by `operation`. */
    latency: "FlxblLatency",
    /** Attempts beyond the first (Count). */
    retries: "FlxblRetries",
    /** 429 answers (Count); also by `operation`. */
    throttled: "Flxbl429",
    /** Calls that failed after their retries (Count); also by `operation`. */
    errors: "FlxblErrors",
  },
  keys: {
    /** The secret re-read after FLXBL refused the cached key with 401 (a rotation). */
    refreshes: "KeyRefreshes",
    /** A read served the last good secret through a Secrets Manager failure. */
    staleServes: "StaleSecretServes",
    /** Secrets Manager reads that failed. */
    readFailures: "SecretReadFailures",
  },
  rotation: {
    /** `createSecret` steps that made a new key. */
    started: "RotationsStarted",
    /** `finishSecret` steps that promoted the new key and revoked the old one. */
    finished: "RotationsFinished",
    /** Rotation steps that failed. */
    failed: "RotationsFailed",
  },
} as const;

type Values<T> = T[keyof T];

/**
 * Any metric name of {@link metricNames}.
 *
 * @example
 * ```ts
 * const name: MetricName = "FlxblCalls";
 * ```
 */
export type MetricName = { [K in keyof typeof metricNames]: Values<(typeof metricNames)[K]> }[keyof typeof metricNames];

/**
 * The extra dimension some metrics are also written with, and the metrics written with it.
 *
 * @example
 * ```ts
 * metricsBy.operation.includes("FlxblCalls"); // true
 * ```
 */
export const metricsBy = {
  operation: [
    metricNames.flxbl.calls,
    metricNames.flxbl.latency,
    metricNames.flxbl.throttled,
    metricNames.flxbl.errors,
  ],
  reason: [metricNames.webhook.signatureRejected],
} as const;

/**
 * The environment variable naming the metrics namespace (Powertools Metrics reads it).
 *
 * @example
 * ```ts
 * const namespace = process.env[metricsNamespaceVariable]; // "flxbl-lambda"
 * ```
 */
export const metricsNamespaceVariable = "POWERTOOLS_METRICS_NAMESPACE";
