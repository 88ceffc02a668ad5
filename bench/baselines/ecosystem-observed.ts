/**
 * Baseline "ecosystem + Powertools": the ecosystem baseline as a Powertools user instruments it,
 * the way Powertools' own docs show: Logger, Metrics and Tracer made at module scope, their middy
 * middlewares (`injectLambdaContext`, `logMetrics` with the cold-start metric, `captureLambdaHandler`),
 * and the function's own metrics per invocation (a count and the FLXBL call's latency). What our
 * functions now carry (issue 16), written the usual way, so the cost of observing is compared like
 * for like. The Tracer is imported at module scope as the docs do: that import loads the X-Ray SDK
 * whether or not tracing is on.
 */

import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { getSecret } from "@aws-lambda-powertools/parameters/secrets";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { GetOrderEvent, GetOrderResult } from "./naive.js";

const baseUrl = process.env.FLXBL_URL ?? "";
const secretId = process.env.FLXBL_SECRET_ARN ?? "";
const logger = new Logger({ serviceName: "ecosystem-observed" });
const metrics = new Metrics({ serviceName: "ecosystem-observed", namespace: "bench" });
const tracer = new Tracer({ serviceName: "ecosystem-observed" });

export const handler = middy<GetOrderEvent, GetOrderResult>()
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .handler(async (event) => {
    const secret = await getSecret<{ apiKey: string }>(secretId, { maxAge: 300, transform: "json" });
    if (!secret) throw new Error(`secret ${secretId} has no value`);
    const started = performance.now();
    const res = await fetch(`${baseUrl}/dynamic/Order/${encodeURIComponent(event.orderId)}`, {
      headers: { authorization: `Bearer ${secret.apiKey}`, accept: "application/json" },
    });
    metrics.addMetric("FlxblCalls", MetricUnit.Count, 1);
    metrics.addMetric("FlxblLatency", MetricUnit.Milliseconds, performance.now() - started);
    if (!res.ok) throw new Error(`GET /dynamic/Order/${event.orderId} answered ${res.status}`);
    const order = (await res.json()) as GetOrderResult;
    return { id: order.id, status: order.status };
  });
