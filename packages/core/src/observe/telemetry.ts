import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { defaultMetricsNamespace } from "../contract.js";
import { metricNames, metricsNamespaceVariable } from "./catalog.js";
import { flxblSubsegment } from "./tracing.js";

/** A CloudWatch unit (`Count`, `Seconds`, `Milliseconds`, ...). */
export type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** What the client tells {@link Telemetry.flxblCall} about one call while it runs. */
export interface FlxblCallFacts {
  /** Attempts sent (1 + retries). */
  attempts: number;
  /** 429 answers among them. */
  throttled: number;
  /** The last answer's HTTP status; undefined when none came. */
  status: number | undefined;
}

/**
 * Latencies kept per operation and invocation: a uniform sample, so a 10,000-call job stays one
 * document. 99, not EMF's 100: Powertools publishes a metric on its own (a write of its own) the
 * moment it holds 100 values.
 */
const latencySample = 99;

class OperationStats {
  calls = 0;
  errors = 0;
  throttled = 0;
  retries = 0;
  latencies: number[] = [];
  seen = 0;

  add(ms: number, facts: FlxblCallFacts, failed: boolean, random: () => number): void {
    this.calls++;
    if (failed) this.errors++;
    this.throttled += facts.throttled;
    this.retries += Math.max(0, facts.attempts - 1);
    this.seen++;
    // Reservoir sampling: each latency is kept with probability sample / seen.
    if (this.latencies.length < latencySample) this.latencies.push(ms);
    else {
      const slot = Math.floor(random() * this.seen);
      if (slot < latencySample) this.latencies[slot] = ms;
    }
  }
}

/**
 * Options of {@link Telemetry}.
 *
 * @example
 * ```ts
 * const telemetry = new Telemetry({ serviceName: "payments-webhook", stage: "prod" });
 * ```
 */
export interface TelemetryOptions {
  /** The `service` dimension: the function's manifest name. */
  serviceName: string;
  /** The `stage` dimension (`APP_STAGE`). @default "local" */
  stage?: string | undefined;
  /** @default `POWERTOOLS_METRICS_NAMESPACE`, else {@link defaultMetricsNamespace} */
  namespace?: string;
  /** Random source for the latency sample (tests). @default Math.random */
  random?: () => number;
}

/** Where an invocation's metrics are kept in middy's `request.internal`. */
const invocationKey = "telemetry.invocation";

/**
 * The metrics of the invocation a middy request belongs to (set by `flxblHandler` when it starts):
 * what a middleware binds the invocation's FLXBL client to.
 *
 * @example
 * ```ts
 * const before = (request: { internal?: Record<string, unknown> }) => {
 *   invocationMetrics(request)?.count("MyChecks");
 * };
 * ```
 */
export function invocationMetrics(request: { internal?: Record<string, unknown> }): InvocationMetrics | undefined {
  return request.internal?.[invocationKey] as InvocationMetrics | undefined;
}

/**
 * Records the metrics of the invocation a middy request belongs to (see {@link invocationMetrics}).
 *
 * @example
 * ```ts
 * const telemetry = new Telemetry({ serviceName: "payments-webhook", stage: "prod" });
 * const requestStart = (request: { internal: Record<string, unknown> }) => setInvocationMetrics(request, telemetry.start());
 * ```
 */
export function setInvocationMetrics(request: { internal: Record<string, unknown> }, metrics: InvocationMetrics): void {
  request.internal[invocationKey] = metrics;
}

/** The invocation started last in this process and not yet finished. */
let latest: InvocationMetrics | undefined;

/**
 * The metrics of the invocation running in this process: where the process-wide parts of core
 * (the secret loader) count what they see. Lambda runs one invocation per execution environment
 * at a time; where invocations overlap in one process (`npm start` under load, tests), these counts
 * go to the one started last. FLXBL calls always count in their own invocation: the client each
 * invocation gets is bound to its metrics.
 *
 * No `AsyncLocalStorage` on purpose: on Node 22 an active one turns on promise hooks for the whole
 * process, which cost the warm path more than everything else here together (measured).
 *
 * @example
 * ```ts
 * activeTelemetry()?.count(metricNames.keys.staleServes);
 * ```
 */
export function activeTelemetry(): InvocationMetrics | undefined {
  return latest;
}

/**
 * What one invocation counted, until {@link Telemetry.finish} writes it: counts, values with a
 * unit, counts by an extra dimension, and FLXBL calls by operation.
 *
 * @example
 * ```ts
 * const outcome: InvocationOutcome = (request, metrics) => {
 *   if (!request.error) metrics.count("OrdersSwept");
 * };
 * ```
 */
export class InvocationMetrics {
  readonly counts = new Map<string, number>();
  readonly values = new Map<string, { unit: Unit; values: number[] }>();
  readonly by = new Map<string, Map<string, Map<string, number>>>();
  readonly operations = new Map<string, OperationStats>();

  constructor(private readonly random: () => number = Math.random) {}

  /** Adds `n` to a Count metric. */
  count(name: string, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n);
  }

  /** Records a value of a metric with a unit (`Seconds`, `Milliseconds`, ...). */
  value(name: string, unit: Unit, value: number): void {
    const entry = this.values.get(name);
    if (entry) entry.values.push(value);
    else this.values.set(name, { unit, values: [value] });
  }

  /** Adds `n` to a Count metric written with one more dimension (`reason`, say) besides the function's. */
  countBy(dimension: string, value: string, name: string, n = 1): void {
    const byValue = this.by.get(dimension) ?? new Map<string, Map<string, number>>();
    this.by.set(dimension, byValue);
    const counts = byValue.get(value) ?? new Map<string, number>();
    byValue.set(value, counts);
    counts.set(name, (counts.get(name) ?? 0) + n);
  }

  /**
   * Runs one FLXBL call: its latency, retries, 429s and failure are counted under its operation
   * (`Order:read`), and it is an X-Ray subsegment when tracing is on. `run` fills in `facts`.
   */
  async flxblCall<R>(
    need: { name: string; op: string },
    method: string,
    run: (facts: FlxblCallFacts) => Promise<R>,
  ): Promise<R> {
    const facts: FlxblCallFacts = { attempts: 0, throttled: 0, status: undefined };
    const close = flxblSubsegment(need, method);
    const started = performance.now();
    let error: unknown;
    try {
      return await run(facts);
    } catch (err) {
      error = err ?? new Error("FLXBL call failed");
      throw err;
    } finally {
      const operation = `${need.name}:${need.op}`;
      const stats = this.operations.get(operation) ?? new OperationStats();
      this.operations.set(operation, stats);
      stats.add(performance.now() - started, facts, error !== undefined, this.random);
      close?.({ ...facts, error });
    }
  }

  /** Up to {@link latencySample} FLXBL latencies drawn from every operation in proportion to its calls. */
  latencySample(): number[] {
    return mergedSample([...this.operations.values()], this.random);
  }
}

/**
 * A function's metrics (Powertools Metrics, CloudWatch EMF) and FLXBL call traces. Each
 * invocation counts into its own {@link InvocationMetrics}, written once at its end
 * ({@link Telemetry.finish}): one EMF document with the function's metrics (dimensions `service`,
 * `stage`), then one per FLXBL operation it called (plus `operation`) and per value of another
 * dimension it counted by (`reason`); Powertools writes `ColdStart` on a cold start.
 * `flxblHandler` makes one per function and drives it from middy's request hooks, so early answers
 * (an idempotent replay) are counted too.
 *
 * @example
 * ```ts
 * const telemetry = new Telemetry({ serviceName: "payments-webhook", stage: "prod" });
 * const invocation = telemetry.start();
 * invocation.count(metricNames.webhook.received);
 * telemetry.finish(invocation);
 * ```
 */
export class Telemetry {
  /**
   * The function's own Powertools Metrics (`context.metrics`): add yours with
   * `metrics.addMetric(name, unit, value)`; written at the end of the invocation with the rest, as
   * a document of its own (its dimensions and metadata stay its own and last one invocation).
   */
  readonly metrics: Metrics;
  readonly #emf: InvocationEmf;
  readonly #random: () => number;

  constructor(options: TelemetryOptions) {
    const settings = {
      serviceName: options.serviceName,
      namespace: options.namespace ?? (process.env[metricsNamespaceVariable] || defaultMetricsNamespace),
      defaultDimensions: { stage: options.stage ?? "local" },
    };
    this.#emf = new InvocationEmf(settings);
    this.metrics = new Metrics(settings);
    this.#random = options.random ?? Math.random;
  }

  /**
   * Begins an invocation: it counts into the returned metrics (and is {@link activeTelemetry}
   * until it finishes or another starts), and a cold start is written (dimension `function_name`: the Lambda
   * function's name, from its context).
   */
  start(functionName?: string): InvocationMetrics {
    const invocation = new InvocationMetrics(this.#random);
    latest = invocation;
    this.metrics.captureColdStartMetric(functionName);
    return invocation;
  }

  /** Ends an invocation: writes what it counted (one document, then one per extra dimension value). */
  finish(invocation: InvocationMetrics): void {
    if (latest === invocation) latest = undefined;
    const m = this.#emf;
    const flxbl = metricNames.flxbl;
    const totals = new OperationStats();
    for (const stats of invocation.operations.values()) {
      totals.calls += stats.calls;
      totals.errors += stats.errors;
      totals.throttled += stats.throttled;
      totals.retries += stats.retries;
    }
    for (const [name, n] of invocation.counts) m.addMetric(name, MetricUnit.Count, n);
    for (const [name, { unit, values }] of invocation.values) for (const v of values) m.addMetric(name, unit, v);
    if (totals.calls > 0) {
      m.addMetric(flxbl.calls, MetricUnit.Count, totals.calls);
      m.addMetric(flxbl.retries, MetricUnit.Count, totals.retries);
      m.addMetric(flxbl.throttled, MetricUnit.Count, totals.throttled);
      m.addMetric(flxbl.errors, MetricUnit.Count, totals.errors);
      for (const v of invocation.latencySample()) m.addMetric(flxbl.latency, MetricUnit.Milliseconds, round(v));
    }
    const docs: string[] = [];
    const flush = (from: Metrics) => {
      if (from.hasStoredMetrics()) docs.push(JSON.stringify(from.serializeMetrics()));
      from.clearMetrics();
      from.clearDimensions();
      from.clearMetadata();
    };
    flush(m);
    for (const [operation, stats] of invocation.operations) {
      m.addDimension("operation", operation);
      m.addMetric(flxbl.calls, MetricUnit.Count, stats.calls);
      m.addMetric(flxbl.retries, MetricUnit.Count, stats.retries);
      m.addMetric(flxbl.throttled, MetricUnit.Count, stats.throttled);
      m.addMetric(flxbl.errors, MetricUnit.Count, stats.errors);
      for (const v of stats.latencies) m.addMetric(flxbl.latency, MetricUnit.Milliseconds, round(v));
      flush(m);
    }
    for (const [dimension, byValue] of invocation.by) {
      for (const [value, counts] of byValue) {
        m.addDimension(dimension, value);
        for (const [name, n] of counts) m.addMetric(name, MetricUnit.Count, n);
        flush(m);
      }
    }
    // The handler's own metrics (context.metrics): a document of their own, with whatever
    // dimensions and metadata it gave them, so they never change the built-ins' dimensions.
    flush(this.metrics);
    m.write(docs);
  }
}

/**
 * Powertools Metrics that writes an invocation's documents in one write to stdout: a write to the
 * Lambda runtime's log pipe is synchronous and costs about as much as the rest of the invocation's
 * metrics together (measured: two writes per invocation were most of the warm path's added time).
 */
class InvocationEmf extends Metrics {
  write(docs: string[]): void {
    if (docs.length === 0 || this.isDisabled()) return;
    process.stdout.write(`${docs.join("\n")}\n`);
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** Up to {@link latencySample} latencies drawn from every operation in proportion to its calls. */
function mergedSample(all: OperationStats[], random: () => number): number[] {
  const pooled = all.flatMap((s) => s.latencies.map((v) => ({ v, weight: s.seen / s.latencies.length })));
  if (pooled.length <= latencySample) return pooled.map((p) => p.v);
  // Weighted sampling without replacement (Efraimidis–Spirakis): key = u^(1/weight), keep the largest.
  return pooled
    .map((p) => ({ v: p.v, key: random() ** (1 / p.weight) }))
    .sort((a, b) => b.key - a.key)
    .slice(0, latencySample)
    .map((p) => p.v);
}
