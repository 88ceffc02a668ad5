import { rmSync } from "node:fs";
import { join } from "node:path";
import type { FunctionSpec } from "@flxbl-lambda/core";
import { startRuntime } from "@flxbl-lambda/local";
import { stripeSucceeded } from "../lib/events.js";
import { admin, type Closers } from "../lib/infra.js";
import { median, quantile } from "../lib/stats.js";
import { readCpuMs, readPeakRss } from "../lib/worker-process.js";

/** Figure 5: one load run through the local gateway. */
export interface GatewayRow {
  run: string;
  requests: number;
  /** Share of the requests that redeliver an event already applied. */
  duplicateShare: number;
  concurrency: number;
  seconds: number;
  requestsPerSecond: number;
  medianMs: number;
  p99Ms: number;
  statuses: Record<string, number>;
  /** Deliveries answered "applied" (each unique event exactly once is expected). */
  applied: number;
  /** Redeliveries whose answer was the original's stored response. */
  replayedIdentical: number;
  /** CPU over the run's wall time (1 = a core busy throughout) of the function's process. */
  functionCpuShare: number;
  /** The same for the bench process: the gateway, the emulator, dynalite, Secrets Manager. */
  serversCpuShare: number;
}

/** Memory of each function's process under the local runtime (tsx on the TypeScript sources). */
export interface RuntimeMemoryRow {
  name: string;
  memoryMb: number;
  peakRssBytes: number | undefined;
}

interface Delivery {
  body: string;
  headers: Record<string, string>;
  eventId: string;
  duplicate: boolean;
}

/**
 * Figure 5: Stripe deliveries to `POST /webhooks/payments` through `startRuntime`'s gateway (the
 * function in its own process, dynalite, the emulator, the local Secrets Manager), `concurrency`
 * requests in flight, first all new events, then half of them redeliveries of applied ones.
 */
export async function gatewayFigures(
  outDir: string,
  manifest: readonly FunctionSpec[],
  options: { requests: number; concurrency: number; warmup: number },
  /** Where the runtime's close is registered too, so a watchdog stop ends its processes. */
  closers: Closers,
): Promise<{ rows: GatewayRow[]; memory: RuntimeMemoryRow[] }> {
  const dataDir = join(outDir, "runtime");
  rmSync(dataDir, { recursive: true, force: true });
  const runtime = await startRuntime({
    manifest,
    port: 0,
    dataDir,
    schedules: false,
    log: () => undefined,
    functionLog: () => undefined,
  });
  closers.add("local runtime", () => runtime.close());
  try {
    const target = runtime.info.functions["payments-webhook"];
    const secret = target?.signingSecrets?.[0];
    if (!target?.url || !secret) throw new Error("the runtime serves no payments webhook");
    const newOrders = options.warmup + options.requests + Math.ceil(options.requests / 2);
    const orders = await createOrders(runtime.info.flxbl, newOrders);
    const fresh = () => {
      const order = orders.pop();
      if (!order) throw new Error("ran out of orders");
      const { body, headers } = stripeSucceeded(order, secret);
      return { body, headers, eventId: (JSON.parse(body) as { id: string }).id, duplicate: false };
    };
    const url = target.url;
    const pid = runtime.hosts.get("payments-webhook")?.pid;
    await load(url, Array.from({ length: options.warmup }, fresh), options.concurrency);

    const unique = Array.from({ length: options.requests }, fresh);
    const first = await measured(pid, () => load(url, unique, options.concurrency));
    // Every other delivery redelivers an event the first run applied; the rest are new events.
    const mixed = Array.from({ length: options.requests }, (_, i) =>
      i % 2 === 0 ? { ...(unique[i / 2] as Delivery), duplicate: true } : fresh(),
    );
    const second = await measured(pid, () => load(url, mixed, options.concurrency, first.answers));
    const rows = [
      { run: "new events only", ...summarise(first, unique, options.concurrency) },
      { run: "50% redeliveries", ...summarise(second, mixed, options.concurrency) },
    ];
    const memory = [...runtime.hosts.values()].map((host) => ({
      name: host.spec.name,
      memoryMb: host.spec.memoryMb ?? 256,
      peakRssBytes: readPeakRss(host.pid),
    }));
    return { rows, memory };
  } finally {
    await runtime.close();
  }
}

/** Runs a load and notes the CPU the function's process and this one used meanwhile. */
async function measured(pid: number | undefined, run: () => Promise<LoadResult>): Promise<LoadResult> {
  const fnBefore = readCpuMs(pid) ?? 0;
  const benchBefore = process.cpuUsage();
  const result = await run();
  const bench = process.cpuUsage(benchBefore);
  result.functionCpuShare = ((readCpuMs(pid) ?? 0) - fnBefore) / (result.seconds * 1000);
  result.serversCpuShare = (bench.user + bench.system) / 1000 / (result.seconds * 1000);
  return result;
}

interface LoadResult {
  functionCpuShare: number;
  serversCpuShare: number;
  seconds: number;
  latenciesMs: number[];
  statuses: Record<string, number>;
  answers: Map<string, string>;
  applied: number;
  replayedIdentical: number;
}

/** Sends every delivery, `concurrency` at a time; bounded: each request times out after 30 s. */
async function load(
  url: string,
  deliveries: Delivery[],
  concurrency: number,
  earlier: Map<string, string> = new Map(),
): Promise<LoadResult> {
  const result: LoadResult = {
    functionCpuShare: 0,
    serversCpuShare: 0,
    seconds: 0,
    latenciesMs: [],
    statuses: {},
    answers: new Map(),
    applied: 0,
    replayedIdentical: 0,
  };
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < deliveries.length) {
      const delivery = deliveries[next++] as Delivery;
      const t = performance.now();
      const res = await fetch(url, {
        method: "POST",
        headers: delivery.headers,
        body: delivery.body,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      result.latenciesMs.push(performance.now() - t);
      result.statuses[res.status] = (result.statuses[res.status] ?? 0) + 1;
      if (res.status !== 200) continue;
      if (delivery.duplicate) {
        if (earlier.get(delivery.eventId) === text) result.replayedIdentical++;
      } else {
        result.answers.set(delivery.eventId, text);
        if ((JSON.parse(text) as { status?: string }).status === "applied") result.applied++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

function summarise(result: LoadResult, deliveries: Delivery[], concurrency: number) {
  return {
    requests: deliveries.length,
    duplicateShare: deliveries.filter((d) => d.duplicate).length / deliveries.length,
    concurrency,
    seconds: result.seconds,
    requestsPerSecond: deliveries.length / result.seconds,
    medianMs: median(result.latenciesMs),
    p99Ms: quantile(result.latenciesMs, 0.99),
    statuses: result.statuses,
    applied: result.applied,
    replayedIdentical: result.replayedIdentical,
    functionCpuShare: result.functionCpuShare,
    serversCpuShare: result.serversCpuShare,
  };
}

/** Pending orders for the deliveries to pay, created through the emulator's API. */
async function createOrders(flxbl: { url: string; adminKey: string }, count: number) {
  const orders: Array<{ id: string; total: number; currency: string }> = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const created = await admin<{ id: string; total: number; currency: string }>(flxbl, "POST", "/dynamic/Order", {
        number: `BENCH-${i}`,
        status: "pending",
        total: 1000 + i,
        currency: "eur",
      });
      orders.push(created);
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return orders;
}
