import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { paymentsLockApartSpec } from "../handlers/spec.js";
import { type BenchContext, startWorker } from "../lib/context.js";
import { paymentsEvent } from "../lib/events.js";
import { admin } from "../lib/infra.js";
import { median, quantile } from "../lib/stats.js";
import type { WorkerProcess } from "../lib/worker-process.js";

/** One variant's warm latencies, Secrets Manager calls and memory (figures 1, 2 and 6). */
export interface WarmRow {
  name: string;
  what: string;
  invocations: number;
  medianUs: number;
  p99Us: number;
  meanUs: number;
  /** GetSecretValue calls at its endpoint during the cold start and warm-up. */
  smCallsColdAndWarmup: number;
  /** GetSecretValue calls during the measured warm invocations, per 1,000. */
  smCallsPer1000Warm: number;
  peakRssBytes: number;
  failed: number;
  /** The median of each round's batch, in order (for paired comparisons between variants). */
  roundMediansUs: number[];
  /**
   * CPU time the function's process spent per measured invocation (user + system): less sensitive
   * than latency to other load on the machine, and the cost Lambda bills as duration on a busy core.
   */
  cpuUsPerInvocation: number;
  /** Requests at the local DynamoDB and FLXBL endpoints per measured invocation (all variants run in turn, so a batch's are its own). */
  calls: Calls;
  /** The webhooks only: the calls of one event applied to a pending order, then of its redelivery. */
  perEvent?: { applied: Calls; duplicate: Calls };
}

/** Requests one invocation (or a batch, per invocation) made to DynamoDB (by operation) and FLXBL. */
export interface Calls {
  dynamodb: Record<string, number>;
  flxbl: number;
}

export interface WarmOptions {
  /** Interleaved rounds; each round runs a batch of every variant, in a rotating order. */
  rounds: number;
  /** Invocations per batch of the GET-an-Order variants. */
  batch: number;
  /** Invocations per batch of the payments webhook (slower: DynamoDB on every call). */
  webhookBatch: number;
  warmup: number;
}

interface Variant {
  name: string;
  what: string;
  worker: WorkerProcess;
  events: (n: number) => unknown[];
  batch: number;
  micros: number[];
  roundMedians: number[];
  cpuMs: number;
  lastCpuMs: number;
  failed: number;
  failures: string[];
  dynamodbCalls: Record<string, number>;
  flxblCalls: number;
  /** The signed delivery of a new event for `order` (webhooks only). */
  delivery?: (order: PaidOrder) => unknown;
}

/**
 * Figure 1 (warm overhead), 2 (Secrets Manager calls) and the warm part of 6 (memory): every
 * variant in its own process, invoked in interleaved batches so drift and noise hit all alike.
 */
export async function warmFigures(ctx: BenchContext, paidOrder: PaidOrder, options: WarmOptions): Promise<WarmRow[]> {
  const get = (n: number) => Array.from({ length: n }, () => ({ orderId: paidOrder.id }));
  const signing = (name: string) => ctx.secrets.get(name)?.signingSecrets[0] as string;
  const webhook = (name: string, what: string) => ({
    name,
    what,
    events: (n: number) => Array.from({ length: n }, () => paymentsEvent(paidOrder, signing(name))),
    batch: options.webhookBatch,
    delivery: (order: PaidOrder) => paymentsEvent(order, signing(name)),
  });
  const defs: Array<
    Omit<
      Variant,
      | "worker"
      | "micros"
      | "roundMedians"
      | "cpuMs"
      | "lastCpuMs"
      | "failed"
      | "failures"
      | "dynamodbCalls"
      | "flxblCalls"
    >
  > = [
    { name: "bench-get-order", what: "ours: flxblHandler, GET Order", events: get, batch: options.batch },
    { name: "ecosystem", what: "middy + Parameters getSecret + fetch", events: get, batch: options.batch },
    {
      name: "ecosystem-observed",
      what: "the same with Powertools Logger, Metrics and Tracer middlewares",
      events: get,
      batch: options.batch,
    },
    { name: "naive", what: "GetSecretValue every call + fetch", events: get, batch: options.batch },
    webhook("payments-webhook", "ours: the real payments webhook (verify, idempotency with the order's lock, GET)"),
    webhook(
      paymentsLockApartSpec.name,
      "the payments webhook before the lock rode along (idempotency, then the lock in calls of its own)",
    ),
  ];
  // The cold-start figure used the same endpoints: count from here.
  const callsAtStart = new Map(defs.map((d) => [d.name, smCalls(ctx, d.name)]));
  const variants: Variant[] = defs.map((d) => ({
    ...d,
    worker: startWorker(ctx, d.name),
    micros: [],
    roundMedians: [],
    cpuMs: 0,
    lastCpuMs: 0,
    failed: 0,
    failures: [],
    dynamodbCalls: {},
    flxblCalls: 0,
  }));
  try {
    await Promise.all(variants.map((v) => v.worker.ready()));
    // Warm up: the cold start's secret read, JIT, connection pools; excluded from the figures.
    for (const v of variants) {
      const warm = await v.worker.invoke(v.events(Math.ceil((options.warmup * v.batch) / options.batch)));
      if (warm.failed > 0) throw new Error(`${v.name} failed while warming up: ${warm.failures.join("; ")}`);
      v.lastCpuMs = warm.cpuMs;
    }
    const callsAfterWarmup = new Map(
      variants.map((v) => [v.name, smCalls(ctx, v.name) - (callsAtStart.get(v.name) ?? 0)]),
    );
    for (let round = 0; round < options.rounds; round++) {
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(round + i) % variants.length] as Variant;
        const { out, calls } = await counted(ctx, () => v.worker.invoke(v.events(v.batch)));
        for (const [op, n] of Object.entries(calls.dynamodb)) v.dynamodbCalls[op] = (v.dynamodbCalls[op] ?? 0) + n;
        v.flxblCalls += calls.flxbl;
        v.micros.push(...out.micros);
        v.roundMedians.push(median(out.micros));
        v.cpuMs += out.cpuMs - v.lastCpuMs;
        v.lastCpuMs = out.cpuMs;
        v.failed += out.failed;
        v.failures.push(...out.failures);
      }
    }
    // One new event on a pending order, then its redelivery, through each webhook: the calls of each.
    const perEvent = new Map<string, { applied: Calls; duplicate: Calls }>();
    for (const v of variants) {
      if (!v.delivery) continue;
      const order = await admin<PaidOrder>(ctx.emulator, "POST", "/dynamic/Order", {
        number: `BENCH-${v.name}`,
        status: "pending",
        total: 2500,
        currency: "eur",
      });
      const event = v.delivery(order);
      const applied = await counted(ctx, () => v.worker.invoke([event]));
      const duplicate = await counted(ctx, () => v.worker.invoke([event]));
      if (applied.out.failed + duplicate.out.failed > 0)
        throw new Error(
          `${v.name} failed an event: ${[...applied.out.failures, ...duplicate.out.failures].join("; ")}`,
        );
      perEvent.set(v.name, { applied: applied.calls, duplicate: duplicate.calls });
    }
    // Every latency, for a closer look at the distribution (not in results.json: too long).
    writeFileSync(
      join(ctx.outDir, "warm-latencies-us.json"),
      JSON.stringify(Object.fromEntries(variants.map((v) => [v.name, v.micros.map((us) => Math.round(us))]))),
    );
    return variants.map((v) => {
      const warmCalls = smCalls(ctx, v.name) - (callsAtStart.get(v.name) ?? 0) - (callsAfterWarmup.get(v.name) ?? 0);
      if (v.failed > 0) ctx.log(`  ${v.name}: ${v.failed} failed invocations, e.g. ${v.failures[0]}`);
      return {
        name: v.name,
        what: v.what,
        invocations: v.micros.length,
        medianUs: median(v.micros),
        p99Us: quantile(v.micros, 0.99),
        meanUs: v.micros.reduce((a, b) => a + b, 0) / v.micros.length,
        smCallsColdAndWarmup: callsAfterWarmup.get(v.name) ?? 0,
        smCallsPer1000Warm: (warmCalls / v.micros.length) * 1000,
        peakRssBytes: v.worker.peakRss() ?? 0,
        failed: v.failed,
        roundMediansUs: v.roundMedians,
        cpuUsPerInvocation: (v.cpuMs * 1000) / v.micros.length,
        calls: {
          dynamodb: Object.fromEntries(Object.entries(v.dynamodbCalls).map(([op, n]) => [op, n / v.micros.length])),
          flxbl: v.flxblCalls / v.micros.length,
        },
        perEvent: perEvent.get(v.name),
      };
    });
  } finally {
    await Promise.all(variants.map((v) => v.worker.stop()));
  }
}

/** The order figure 1 reads: paid already, so the payments webhook answers "unchanged" (a GET, no write). */
export interface PaidOrder {
  id: string;
  total: number;
  currency: string;
}

/** Runs `work` alone and counts the requests the local DynamoDB and FLXBL endpoints got meanwhile. */
async function counted<T>(ctx: BenchContext, work: () => Promise<T>): Promise<{ out: T; calls: Calls }> {
  const dynamodbBefore = { ...ctx.dynamodb.calls };
  const flxblBefore = ctx.emulator.stats().total;
  const out = await work();
  const dynamodb: Record<string, number> = {};
  for (const [op, n] of Object.entries(ctx.dynamodb.calls))
    if (n > (dynamodbBefore[op] ?? 0)) dynamodb[op] = n - (dynamodbBefore[op] ?? 0);
  return { out, calls: { dynamodb, flxbl: ctx.emulator.stats().total - flxblBefore } };
}

function smCalls(ctx: BenchContext, name: string): number {
  return ctx.secrets.get(name)?.sm.calls.GetSecretValue ?? 0;
}
