import { scheduledEvent } from "@flxbl-lambda/core";
import { type BehaviourOptions, type RateLimit, startEmulator } from "@flxbl-lambda/emulator";
import appSchema from "../../packages/functions/flxbl/schema.json" with { type: "json" };
import { type BenchContext, startWorker } from "../lib/context.js";
import { Closers, provisionFunction, startStateTable } from "../lib/infra.js";
import { readRss } from "../lib/worker-process.js";

const jobName = "expire-stale-orders";

/** One run of the expire job over `records` stale orders (figures 4 and 6). */
export interface JobRow {
  records: number;
  /** 429s carry `Retry-After` (FLXBL's default), or not (a diagnostic run). */
  retryAfterHeader: boolean;
  /** The emulator's per-key limit, or null for none. */
  rateLimit: RateLimit | null;
  seconds: number;
  recordsPerSecond: number;
  /** FLXBL requests the run made (page reads + one PATCH per record), per second. */
  requestsPerSecond: number;
  /** records/s over the limit's rps (null without a limit). */
  fractionOfR: number | null;
  requests: number;
  throttled429: number;
  changed: number;
  failed: number;
  complete: boolean;
  pages: number;
  /** Milliseconds per record done, for the growth ratio. */
  msPerRecord: number;
  timeoutSeconds: number;
  /** Throttling the job's runner saw (429s past the client's own retries), from its summary. */
  clientThrottled: number;
  /** The key's pacing at the end of the run (its rate and what set it, the runner's lanes), from the summary. */
  pacing: { rps?: number; source?: string; throttled: number; lanes: number } | null;
  peakRssBytes: number;
  rssAfterBytes: number;
  /** Heap still in use after the run and a full GC: what the run kept. */
  retainedHeapBytes: number;
  /** Highest RSS sampled (every 250 ms) while the first 1,000 records were being done. */
  rssAt1000Bytes: number;
  /** Highest RSS sampled over the whole run. */
  rssAtEndBytes: number;
  /** [records done, RSS MiB], about 40 of the samples, for a look at the curve. */
  rssSamples: Array<[number, number]>;
  /** What the job wrote to stdout (its log) during the run. */
  logBytes: number;
  /** CPU the job's process used over the run's wall time (1 = one core busy throughout). */
  jobCpuShare: number;
  /** The same for the bench process, which hosts the emulator, dynalite and Secrets Manager. */
  serversCpuShare: number;
}

/** `records` pending orders created two days ago: all stale under PT24H. */
export function staleOrders(records: number): Array<Record<string, unknown>> {
  const createdAt = new Date(Date.now() - 48 * 3600_000).toISOString();
  return Array.from({ length: records }, (_, i) => ({
    id: `node_bench-order-${String(i).padStart(6, "0")}`,
    number: `B-${i}`,
    status: "pending",
    total: 1000 + (i % 500),
    currency: "eur",
    createdAt,
  }));
}

/**
 * Runs `expire-stale-orders` once, in a fresh process on its bundle, against a fresh emulator
 * seeded with `records` stale orders and limited to `rateLimit`, and a fresh dynalite, so each
 * size starts from the same state.
 */
export async function jobRun(
  ctx: BenchContext,
  records: number,
  rateLimit: RateLimit | null,
  /** The invocation's timeout: the manifest's, or less to keep the bench in its time budget. */
  timeoutSeconds: number,
  /** Emulator behaviour for a diagnostic run (e.g. 429s without `Retry-After`). @default FLXBL's */
  behaviour: Partial<BehaviourOptions> = {},
): Promise<JobRow> {
  const closers = new Closers();
  try {
    const emulator = await startEmulator({
      schema: appSchema,
      seed: { records: { Order: staleOrders(records) } },
      rateLimit: null,
      behaviour,
    });
    closers.add("job emulator", () => emulator.close());
    const dynamodb = await startStateTable(closers);
    const fn = ctx.functions.get(jobName);
    if (!fn) throw new Error(`no ${jobName} bundle`);
    const secret = await provisionFunction(emulator, jobName, fn.scopes, closers);
    // The limit applies from here: provisioning used the admin key, the run uses the job's own.
    emulator.configure({ rateLimit });
    const worker = startWorker(ctx, jobName, {
      flxblUrl: emulator.url,
      dynamodbUrl: dynamodb.url,
      secret,
      timeoutSeconds,
    });
    closers.add("job worker", () => worker.stop());
    const ready = await worker.ready();
    emulator.resetStats();
    // RSS against the records done so far (the emulator counts the job's PATCHes), so memory can be
    // read at 1,000 records and at the end of the same run.
    const rssByRecords: Array<{ records: number; rssBytes: number }> = [];
    const sampler = setInterval(() => {
      const rssBytes = readRss(worker.pid);
      const done = Object.entries(emulator.stats().routes)
        .filter(([route]) => route.startsWith("PATCH"))
        .reduce((n, [, count]) => n + count, 0);
      if (rssBytes !== undefined) rssByRecords.push({ records: done, rssBytes });
    }, 250);
    const benchCpu = process.cpuUsage();
    const out = await worker
      .invoke([scheduledEvent(jobName)], { returnLast: true, retainedHeap: true })
      .finally(() => clearInterval(sampler));
    const servers = process.cpuUsage(benchCpu);
    const rssUpTo = (records: number) =>
      Math.max(0, ...rssByRecords.filter((s) => s.records <= records).map((s) => s.rssBytes));
    if (out.failed > 0) throw new Error(`${jobName} over ${records} records failed: ${out.failures.join("; ")}`);
    const summary = out.last as {
      changed: number;
      failed: number;
      complete: boolean;
      pages: number;
      throttled: number;
      pacing?: { rps?: number; source?: string; throttled: number; lanes: number };
    };
    const stats = emulator.stats();
    const seconds = (out.micros[0] as number) / 1e6;
    return {
      records,
      retryAfterHeader: behaviour.retryAfterHeader ?? true,
      rateLimit,
      seconds,
      recordsPerSecond: summary.changed / seconds,
      requestsPerSecond: stats.total / seconds,
      fractionOfR: rateLimit ? summary.changed / seconds / rateLimit.rps : null,
      requests: stats.total,
      throttled429: stats.statuses["429"] ?? 0,
      changed: summary.changed,
      failed: summary.failed,
      complete: summary.complete,
      pages: summary.pages,
      msPerRecord: (seconds * 1000) / Math.max(1, summary.changed),
      timeoutSeconds,
      clientThrottled: summary.throttled,
      pacing: summary.pacing ?? null,
      peakRssBytes: out.peakRss,
      jobCpuShare: (out.cpuMs - ready.cpuMs) / (seconds * 1000),
      serversCpuShare: (servers.user + servers.system) / 1000 / (seconds * 1000),
      rssAfterBytes: out.rss,
      retainedHeapBytes: out.retainedHeap ?? 0,
      rssAt1000Bytes: rssUpTo(1000),
      rssAtEndBytes: rssUpTo(Number.POSITIVE_INFINITY),
      rssSamples: rssByRecords
        .filter((_, i) => i % Math.ceil(rssByRecords.length / 40) === 0)
        .map((s) => [s.records, Math.round(s.rssBytes / 1048576)]),
      logBytes: worker.stdoutBytes,
    };
  } finally {
    const problems = await closers.closeAll();
    if (problems.length > 0) ctx.log(`  closing the job run: ${problems.join("; ")}`);
  }
}
