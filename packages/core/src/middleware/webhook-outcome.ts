import type { InvocationOutcome } from "../lambda.js";
import { metricNames } from "../observe/catalog.js";
import { WebhookSignatureError } from "../webhooks/errors.js";
import { replayedMark } from "./idempotency.js";

const named: Record<string, string> = {
  applied: metricNames.webhook.applied,
  unchanged: metricNames.webhook.unchanged,
  ignored: metricNames.webhook.ignored,
};

/** The `status` a webhook's JSON answer names (`{"status":"applied"}`), if any. */
function answeredStatus(body: unknown): string | undefined {
  if (typeof body !== "string" || !body.startsWith("{")) return undefined;
  try {
    const status = (JSON.parse(body) as { status?: unknown }).status;
    return typeof status === "string" ? status : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A webhook delivery's metrics: received; then replayed (answered from its idempotency record),
 * applied / unchanged / ignored (what its 2xx body's `status` says; any other 2xx is handled),
 * refused by its signature (also by `reason`), and 4xx / 5xx. `webhookHandler` passes it.
 *
 * @example
 * ```ts
 * const handler = flxblHandler({ spec: paymentsWebhook, env, outcome: webhookOutcome }, async () => ({ statusCode: 200 }));
 * ```
 */
export const webhookOutcome: InvocationOutcome = (request, metrics) => {
  const names = metricNames.webhook;
  metrics.count(names.received);
  const response = request.response as { statusCode?: number; body?: unknown } | undefined;
  const status = response?.statusCode ?? (request.error ? 500 : 200);
  if (status >= 200 && status < 300) {
    if (request.internal[replayedMark] === true) metrics.count(names.replayed);
    else metrics.count(named[answeredStatus(response?.body) ?? ""] ?? names.handled);
  } else if (status >= 400 && status < 500) {
    metrics.count(names.clientErrors);
    if (request.error instanceof WebhookSignatureError) {
      metrics.count(names.signatureRejected);
      metrics.countBy("reason", request.error.reason, names.signatureRejected);
    }
  } else if (status >= 500) metrics.count(names.serverErrors);
};
