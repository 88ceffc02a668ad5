import { type FunctionSpec, type MetricName, metricNames, type metricsBy } from "@flxbl-lambda/core";
import type { Stack } from "aws-cdk-lib";
import type { IHttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Dashboard,
  GraphWidget,
  type IMetric,
  type IWidget,
  MathExpression,
  TextWidget,
} from "aws-cdk-lib/aws-cloudwatch";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { appMetric, fiveMinutes, type MetricsPlace } from "./metrics.js";

/** What the dashboard charts: the stage's functions by manifest name, its API and its failure queue. */
export interface DashboardSources {
  manifest: readonly FunctionSpec[];
  /** Every manifest function, by name. */
  functions: Record<string, IFunction>;
  /** The rotation function and its service name. */
  rotation: { name: string; fn: IFunction };
  api: IHttpApi;
  failures: IQueue;
}

/** `<app>-<stage>`, in the characters CloudWatch allows in a dashboard name. */
export function dashboardName(app: string, stage: string): string {
  return `${app}-${stage}`.replace(/[^A-Za-z0-9_-]/g, "-");
}

const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
  new GraphWidget({ title, left, right, width: 8, height: 6, period: fiveMinutes });
const heading = (markdown: string) => new TextWidget({ markdown, width: 24, height: 1 });
const percentiles = (metric: (statistic: string) => IMetric) => [metric("p50"), metric("p99")];

/**
 * One metric for every value of an extra dimension (`operation`, `reason`), all services of the
 * stage: a CloudWatch SEARCH, so a new entity or reason appears without a deploy.
 */
function byDimension(place: MetricsPlace, name: string, dimension: keyof typeof metricsBy, statistic = "Sum") {
  return new MathExpression({
    expression: `SEARCH('{"${place.namespace}",${dimension},service,stage} MetricName="${name}" stage="${place.stage}"', '${statistic}', 300)`,
    usingMetrics: {},
    label: "",
    period: fiveMinutes,
  });
}

function webhookWidgets(place: MetricsPlace, spec: FunctionSpec, fn: IFunction): IWidget[] {
  const w = metricNames.webhook;
  const m = (name: MetricName) => appMetric(place, spec.name, name);
  return [
    graph(`${spec.name}: deliveries and outcomes`, [
      m(w.received),
      m(w.applied),
      m(w.unchanged),
      m(w.ignored),
      m(w.replayed),
    ]),
    graph(`${spec.name}: refusals and errors`, [m(w.signatureRejected), m(w.clientErrors), m(w.serverErrors)]),
    graph(
      `${spec.name}: duration p50 / p99 (ms)`,
      percentiles((statistic) => fn.metricDuration({ statistic, period: fiveMinutes, label: `Duration ${statistic}` })),
    ),
  ];
}

function jobWidgets(place: MetricsPlace, spec: FunctionSpec): IWidget[] {
  const j = metricNames.job;
  const m = (name: MetricName, statistic?: string) =>
    appMetric(place, spec.name, name, { statistic, label: statistic ? `${name} ${statistic}` : name });
  return [
    graph(`${spec.name}: runs`, [m(j.runs), m(j.complete), m(j.incomplete), m(j.errors)]),
    graph(`${spec.name}: records`, [m(j.scanned), m(j.changed), m(j.failed), m(j.throttled)]),
    graph(`${spec.name}: seconds per run`, [m(j.seconds, "Average"), m(j.seconds, "Maximum")]),
  ];
}

/** What every function shares: its FLXBL calls, its Lambda health, its secret. */
function functionWidgets(place: MetricsPlace, name: string, fn: IFunction): IWidget[] {
  const f = metricNames.flxbl;
  const k = metricNames.keys;
  const m = (metric: MetricName) => appMetric(place, name, metric);
  return [
    graph(`${name}: FLXBL calls`, [m(f.calls), m(f.throttled), m(f.retries), m(f.errors)]),
    graph(
      `${name}: FLXBL latency p50 / p99 (ms)`,
      percentiles((statistic) => appMetric(place, name, f.latency, { statistic, label: `${f.latency} ${statistic}` })),
    ),
    graph(
      `${name}: Lambda errors, throttles, concurrency`,
      [fn.metricErrors({ period: fiveMinutes }), fn.metricThrottles({ period: fiveMinutes })],
      [fn.metric("ConcurrentExecutions", { statistic: "Maximum", period: fiveMinutes })],
    ),
    graph(`${name}: secret`, [m(k.refreshes), m(k.staleServes), m(k.readFailures)]),
  ];
}

/**
 * The stage's dashboard, `<app>-<stage>`, built from the manifest: a row per webhook (deliveries
 * and outcomes, refusals and errors, duration) and per job (runs, records, seconds), each
 * function's FLXBL calls, latency, Lambda health and secret reads, the rotation, the API and the
 * failure queue. A new manifest entry gets its rows with no edit here.
 */
export function observabilityDashboard(stack: Stack, place: MetricsPlace, sources: DashboardSources): Dashboard {
  const { manifest, functions, rotation, api, failures } = sources;
  const rows: IWidget[][] = [
    [
      heading(
        `## ${place.namespace} · ${place.stage} — metrics in namespace \`${place.namespace}\` (dimensions service, stage); traces in X-Ray`,
      ),
    ],
    [
      graph("Webhook API: requests and errors", [api.metricCount(), api.metricClientError(), api.metricServerError()]),
      graph(
        "Webhook API: latency p50 / p99 (ms)",
        percentiles((statistic) =>
          api.metricLatency({ statistic, period: fiveMinutes, label: `Latency ${statistic}` }),
        ),
      ),
      graph("Job failure queue depth (DLQ)", [
        failures.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: "Maximum" }),
      ]),
    ],
    [
      graph("FLXBL 429s by operation", [byDimension(place, metricNames.flxbl.throttled, "operation")]),
      graph("FLXBL p99 latency by operation (ms)", [byDimension(place, metricNames.flxbl.latency, "operation", "p99")]),
      graph("Signature refusals by reason", [byDimension(place, metricNames.webhook.signatureRejected, "reason")]),
    ],
  ];
  for (const spec of manifest) {
    const fn = functions[spec.name];
    if (!fn) throw new Error(`No function for manifest entry ${spec.name}`);
    const own = spec.trigger.kind === "http" ? webhookWidgets(place, spec, fn) : jobWidgets(place, spec);
    rows.push([heading(`### ${spec.name} (${spec.trigger.kind === "http" ? "webhook" : "job"})`)], own);
    rows.push(functionWidgets(place, spec.name, fn));
  }
  const r = metricNames.rotation;
  rows.push(
    [heading(`### ${rotation.name} (key rotation)`)],
    [
      graph(`${rotation.name}: rotations`, [
        appMetric(place, rotation.name, r.started),
        appMetric(place, rotation.name, r.finished),
        appMetric(place, rotation.name, r.failed),
      ]),
      ...functionWidgets(place, rotation.name, rotation.fn),
    ],
  );
  return new Dashboard(stack, "Dashboard", {
    dashboardName: dashboardName(place.namespace, place.stage),
    widgets: rows,
  });
}
