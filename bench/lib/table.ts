import type { ColdRow } from "../figures/cold.js";
import type { GatewayRow, RuntimeMemoryRow } from "../figures/gateway.js";
import type { JobRow } from "../figures/job.js";
import type { Calls, WarmRow } from "../figures/warm.js";
import { paymentsLockApartSpec } from "../handlers/spec.js";
import { fmt, met, type TableRow } from "./report.js";
import { median, quantile } from "./stats.js";

/** Everything one run measured. */
export interface Measured {
  warm: WarmRow[];
  cold: ColdRow[];
  job: JobRow[];
  gateway: GatewayRow[];
  runtimeMemory: RuntimeMemoryRow[];
}

/** Within this much of the ecosystem baseline's warm median (issue 9). */
const warmTarget = 1.05;
/** "Fits in 256 MB with room to spare": peak RSS at most this share of the function's memory. */
const memoryRoom = 0.8;
/** "Linear": the time per record at the largest size at most this multiple of the smallest's. */
const linearSlack = 1.2;
/** "Does not grow": the job's peak RSS at the largest size at most this multiple of the smallest's. */
const memoryGrowthSlack = 1.1;

const ours = "bench-get-order";

/** `TransactWriteItems 2` or `PutItem 1, UpdateItem 1, ...`: requests by operation, fractions kept to two places. */
function describeOps(ops: Record<string, number>): string {
  return Object.entries(ops)
    .map(([op, n]) => `${op} ${count(n)}`)
    .join(", ");
}

/** A count, or a mean count to two places. */
const count = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

/** The one table: every figure, ours beside its baseline, with its target where issue 9 sets one. */
/** Ours minus a baseline, round by round (both ran interleaved in each round). */
const pairedDifference = (ours: { roundMediansUs: number[] }, baseline: { roundMediansUs: number[] }) =>
  ours.roundMediansUs.map((us, i) => us - (baseline.roundMediansUs[i] ?? Number.NaN));

export function buildTable(m: Measured): TableRow[] {
  const rows: TableRow[] = [];
  const warm = (name: string) => m.warm.find((r) => r.name === name);
  const cold = (name: string) => m.cold.find((r) => r.name === name);

  // Figure 1: warm overhead.
  const o = warm(ours);
  const eco = warm("ecosystem");
  const naive = warm("naive");
  const hook = warm("payments-webhook");
  const apart = warm(paymentsLockApartSpec.name);
  if (o && eco && naive) {
    const paired = pairedDifference(o, eco);
    const ratio = o.medianUs / eco.medianUs;
    rows.push(
      {
        fig: "1",
        measure: `warm median, GET Order (${fmt.n(o.invocations)} each, interleaved)`,
        ours: fmt.us(o.medianUs),
        baseline: `ecosystem ${fmt.us(eco.medianUs)}; naive ${fmt.us(naive.medianUs)}`,
        versus: `${signed(o.medianUs - eco.medianUs)} µs, ${fmt.x(ratio)} ecosystem; ${fmt.x(o.medianUs / naive.medianUs)} naive`,
        target: `≤ ${fmt.x(warmTarget)} ecosystem, < naive`,
        met: met(ratio <= warmTarget && o.medianUs < naive.medianUs),
      },
      {
        fig: "1",
        measure: "warm p99, GET Order",
        ours: fmt.us(o.p99Us),
        baseline: `ecosystem ${fmt.us(eco.p99Us)}; naive ${fmt.us(naive.p99Us)}`,
        versus: `${signed(o.p99Us - eco.p99Us)} µs, ${fmt.x(o.p99Us / eco.p99Us)} ecosystem`,
        target: "",
        met: "",
      },
      {
        fig: "1",
        measure: "CPU per warm invocation, GET Order (the function's process)",
        ours: fmt.us(o.cpuUsPerInvocation),
        baseline: `ecosystem ${fmt.us(eco.cpuUsPerInvocation)}; naive ${fmt.us(naive.cpuUsPerInvocation)}`,
        versus: `${signed(o.cpuUsPerInvocation - eco.cpuUsPerInvocation)} µs, ${fmt.x(o.cpuUsPerInvocation / eco.cpuUsPerInvocation)} ecosystem`,
        target: "",
        met: "",
      },
      {
        fig: "1",
        measure: `ours − ecosystem, paired by round (median [p25, p75] of ${paired.length})`,
        ours: `${signed(median(paired))} µs`,
        baseline: "",
        versus: `[${signed(quantile(paired, 0.25))}, ${signed(quantile(paired, 0.75))}] µs`,
        target: "",
        met: "",
      },
    );
  }
  const observed = warm("ecosystem-observed");
  if (o && observed) {
    const paired = pairedDifference(o, observed);
    rows.push({
      fig: "1",
      measure: "warm median, GET Order, against the ecosystem with Powertools Logger, Metrics and Tracer",
      ours: fmt.us(o.medianUs),
      baseline: `ecosystem + Powertools ${fmt.us(observed.medianUs)} (CPU ${fmt.us(observed.cpuUsPerInvocation)})`,
      versus: `${fmt.x(o.medianUs / observed.medianUs)}; paired by round ${signed(median(paired))} µs [${signed(quantile(paired, 0.25))}, ${signed(quantile(paired, 0.75))}]`,
      target: "",
      met: "",
    });
  }
  if (hook && eco)
    rows.push({
      fig: "1",
      measure: `warm median / p99, payments webhook (verify, idempotency with the lock, GET; ${fmt.n(hook.invocations)})`,
      ours: `${fmt.ms(hook.medianUs / 1000)} / ${fmt.ms(hook.p99Us / 1000)}`,
      baseline: `ecosystem GET ${fmt.ms(eco.medianUs / 1000)}${apart ? `; lock apart ${fmt.ms(apart.medianUs / 1000)} / ${fmt.ms(apart.p99Us / 1000)}` : ""}`,
      versus: `${fmt.x(hook.medianUs / eco.medianUs)} ecosystem GET${apart ? `; ${fmt.x(hook.medianUs / apart.medianUs)} lock apart` : ""}`,
      target: "",
      met: "",
    });
  if (hook && apart) {
    const calls = (c: Calls | undefined) =>
      c
        ? `DynamoDB ${count(Object.values(c.dynamodb).reduce((a, b) => a + b, 0))} (${describeOps(c.dynamodb)}), FLXBL ${count(c.flxbl)}`
        : "?";
    const paired = hook.roundMediansUs.map((us, i) => us / (apart.roundMediansUs[i] ?? Number.NaN));
    rows.push(
      {
        fig: "1",
        measure: `payments webhook ÷ lock apart, paired by round (median [p25, p75] of ${paired.length})`,
        ours: fmt.x(median(paired)),
        baseline: "",
        versus: `[${fmt.x(quantile(paired, 0.25))}, ${fmt.x(quantile(paired, 0.75))}]`,
        target: "",
        met: "",
      },
      {
        fig: "1",
        measure: "calls per applied event, payments webhook (new event on a pending order: GET, PATCH)",
        ours: calls(hook.perEvent?.applied),
        baseline: `lock apart: ${calls(apart.perEvent?.applied)}`,
        versus: "",
        target: "",
        met: "",
      },
      {
        fig: "1",
        measure: "calls per replayed duplicate, payments webhook",
        ours: calls(hook.perEvent?.duplicate),
        baseline: `lock apart: ${calls(apart.perEvent?.duplicate)}`,
        versus: "",
        target: "1 DynamoDB call",
        met: met(Object.values(hook.perEvent?.duplicate.dynamodb ?? {}).reduce((a, b) => a + b, 0) === 1),
      },
      {
        fig: "1",
        measure: "calls per warm invocation, payments webhook (paid order: unchanged, GET only)",
        ours: calls(hook.calls),
        baseline: `lock apart: ${calls(apart.calls)}`,
        versus: "",
        target: "",
        met: "",
      },
    );
  }

  // Figure 2: Secrets Manager calls.
  if (o && eco && naive && hook) {
    const sm = (r: WarmRow) => `${fmt.n(r.smCallsPer1000Warm, 1)} (+${r.smCallsColdAndWarmup} at cold start)`;
    rows.push({
      fig: "2",
      measure: "Secrets Manager calls per 1,000 warm invocations (within the TTL)",
      ours: `get-order ${sm(o)}; payments ${sm(hook)}`,
      baseline: `ecosystem ${sm(eco)}; naive ${fmt.n(naive.smCallsPer1000Warm, 1)}`,
      versus: `${fmt.n(naive.smCallsPer1000Warm - o.smCallsPer1000Warm, 1)} fewer than naive`,
      target: "1 per container",
      met: met(
        [o, hook].every((r) => r.smCallsPer1000Warm === 0 && r.smCallsColdAndWarmup === 1) &&
          m.cold.filter((c) => c.kind === "ours").every((c) => c.smCallsPerColdStart <= 1),
      ),
    });
  }

  // Figure 3: bundle size and cold start.
  const ecoCold = cold("ecosystem");
  for (const c of m.cold) {
    if (c.name === "ecosystem") continue;
    rows.push({
      fig: "3",
      measure: `cold start ${c.name}${c.kind === "baseline" ? " (baseline)" : ""}: bundle, import + first call`,
      ours: `${fmt.kib(c.bundleBytes)} (${fmt.kib(c.bundleGzipBytes)} gz); ${fmt.ms(c.importMs)} + ${fmt.ms(c.firstInvokeMs)} = ${fmt.ms(c.coldMs)}`,
      baseline: ecoCold
        ? `ecosystem ${fmt.kib(ecoCold.bundleBytes)}; ${fmt.ms(ecoCold.importMs)} + ${fmt.ms(ecoCold.firstInvokeMs)} = ${fmt.ms(ecoCold.coldMs)}`
        : "",
      versus: ecoCold
        ? `size ${fmt.x(c.bundleBytes / ecoCold.bundleBytes)}, cold ${fmt.x(c.coldMs / ecoCold.coldMs)}`
        : "",
      target: "",
      met: "",
    });
  }

  const oCold = cold(ours);
  if (oCold && ecoCold) {
    const top = (c: ColdRow, n: number) =>
      c.largestPackages
        .slice(0, n)
        .map((p) => `${p.name} ${fmt.kib(p.bytes)}`)
        .join(", ");
    rows.push({
      fig: "3",
      measure: `largest packages in the ${ours} bundle (minified bytes)`,
      ours: top(oCold, 4),
      baseline: `ecosystem: ${top(ecoCold, 3)}`,
      versus: `${signed((oCold.bundleBytes - ecoCold.bundleBytes) / 1024)} KiB`,
      target: "",
      met: "",
    });
  }

  // Figure 4: job throughput (and the job's part of figure 6).
  const free = m.job.filter((j) => j.rateLimit === null).sort((a, b) => a.records - b.records);
  const limited = m.job.filter((j) => j.rateLimit !== null);
  const done = (j: JobRow) =>
    j.complete
      ? `${fmt.n(j.changed)} done`
      : `${fmt.n(j.changed)} of ${fmt.n(j.records)} done by its ${j.timeoutSeconds} s deadline`;
  const paced = (j: JobRow) =>
    j.pacing?.rps === undefined
      ? ""
      : `paced at ${fmt.n(j.pacing.rps, 1)} rps (${j.pacing.source}), ${j.pacing.lanes} lanes at the end; `;
  for (const j of limited) {
    const fraction = j.fractionOfR ?? 0;
    const share429 = j.throttled429 / Math.max(1, j.requests);
    rows.push({
      fig: "4",
      measure: j.retryAfterHeader
        ? `expire-stale-orders, ${fmt.n(j.records)} records, R = ${j.rateLimit?.rps} rps (burst ${j.rateLimit?.burst})`
        : `  diagnostic: ${fmt.n(j.records)} records, R = ${j.rateLimit?.rps} rps, 429s without Retry-After (what the holds cost)`,
      ours: `${fmt.n(j.recordsPerSecond, 1)} records/s, ${done(j)}, ${j.failed} failed, ${fmt.n(j.throttled429)} × 429 (${fmt.n(share429 * 100, 1)}% of ${fmt.n(j.requests)} requests); ${paced(j)}job CPU ${fmt.n(j.jobCpuShare, 2)} core`,
      baseline: `R = ${j.rateLimit?.rps} rps`,
      versus: `${fmt.n(fraction, 2)} of R`,
      target: j.retryAfterHeader ? "≥ 0.9 of R, 0 failures, complete in deadline, 429s < 5%" : "",
      met: j.retryAfterHeader ? met(fraction >= 0.9 && j.failed === 0 && j.complete && share429 < 0.05) : "",
    });
  }
  for (const j of free)
    rows.push({
      fig: "4",
      measure: `expire-stale-orders, ${fmt.n(j.records)} records, no rate limit (this machine's ceiling)`,
      ours: `${fmt.n(j.recordsPerSecond, 1)} records/s, ${done(j)}, ${j.failed} failed`,
      baseline: "",
      versus: `CPU: job ${fmt.n(j.jobCpuShare, 2)}, servers ${fmt.n(j.serversCpuShare, 2)} core`,
      target: "",
      met: "",
    });
  const small = free[0];
  const large = free.at(-1);
  if (small && large && large !== small) {
    const growth = large.msPerRecord / small.msPerRecord;
    rows.push(
      {
        fig: "4",
        measure: `time per record, ${fmt.n(small.records)} → ${fmt.n(large.records)} records (no limit)`,
        ours: `${fmt.ms(small.msPerRecord)} → ${fmt.ms(large.msPerRecord)}`,
        baseline: "",
        versus: `${fmt.x(growth)}`,
        target: `linear (≤ ${fmt.x(linearSlack)})`,
        met: met(growth <= linearSlack && small.complete && large.complete),
      },
      {
        fig: "6",
        measure: `job memory, RSS after 1,000 → after ${fmt.n(large.records)} records, same run (no limit)`,
        ours: `${fmt.mib(large.rssAt1000Bytes)} → ${fmt.mib(large.rssAtEndBytes)}`,
        baseline: "",
        versus: fmt.x(large.rssAtEndBytes / large.rssAt1000Bytes),
        target: `no growth (≤ ${fmt.x(memoryGrowthSlack)})`,
        met: met(large.rssAtEndBytes <= large.rssAt1000Bytes * memoryGrowthSlack),
      },
      {
        fig: "6",
        measure: `job memory, ${fmt.n(small.records)}- vs ${fmt.n(large.records)}-record runs: peak RSS (heap kept after GC)`,
        ours: `${fmt.mib(small.peakRssBytes)} vs ${fmt.mib(large.peakRssBytes)} (${fmt.mib(small.retainedHeapBytes)} vs ${fmt.mib(large.retainedHeapBytes)})`,
        baseline: "",
        versus: fmt.x(large.peakRssBytes / small.peakRssBytes),
        target: "",
        met: "",
      },
    );
  }

  // Figure 5: the local gateway.
  for (const g of m.gateway) {
    const expectApplied = Math.round(g.requests * (1 - g.duplicateShare));
    const expectReplayed = g.requests - expectApplied;
    const ok =
      (g.statuses["200"] ?? 0) === g.requests && g.applied === expectApplied && g.replayedIdentical === expectReplayed;
    rows.push({
      fig: "5",
      measure: `payments webhook via local gateway, ${g.run}, concurrency ${g.concurrency}`,
      ours: `${fmt.n(g.requestsPerSecond, 1)} req/s (p50 ${fmt.ms(g.medianMs)}, p99 ${fmt.ms(g.p99Ms)}); CPU: function ${fmt.n(g.functionCpuShare, 2)}, servers ${fmt.n(g.serversCpuShare, 2)} core`,
      baseline: "",
      versus: `statuses ${Object.entries(g.statuses)
        .map(([s, n]) => `${s}×${n}`)
        .join(" ")}; applied ${g.applied}, replayed ${g.replayedIdentical}`,
      target: "each event applied once; redeliveries get the stored answer",
      met: met(ok),
    });
  }

  // Figure 6: memory against the manifest.
  const peaks = new Map<string, { bytes: number; where: string }>();
  const note = (name: string, bytes: number, where: string) => {
    const seen = peaks.get(name);
    if (!seen || bytes > seen.bytes) peaks.set(name, { bytes, where });
  };
  for (const w of m.warm) note(w.name, w.peakRssBytes, "fig 1");
  for (const j of m.job)
    note(
      "expire-stale-orders",
      j.peakRssBytes,
      `fig 4, ${fmt.n(j.records)} records, ${j.rateLimit ? `R = ${j.rateLimit.rps}` : "no limit"}`,
    );
  for (const c of m.cold) note(c.name, c.peakRssBytes, "fig 3");
  for (const [name, peak] of peaks) {
    const fn = m.cold.find((c) => c.name === name);
    if (fn?.kind === "baseline") continue;
    const memoryMb = m.runtimeMemory.find((r) => r.name === name)?.memoryMb ?? 256;
    const share = peak.bytes / (memoryMb * 1048576);
    const baseline =
      name === ours ? ["ecosystem", "naive"].map((b) => `${b} ${fmt.mib(peaks.get(b)?.bytes ?? 0)}`).join("; ") : "";
    rows.push({
      fig: "6",
      measure: `peak RSS ${name} (bundle, ${peak.where})`,
      ours: fmt.mib(peak.bytes),
      baseline,
      versus: `${Math.round(share * 100)}% of its ${memoryMb} MB`,
      target: `≤ ${Math.round(memoryRoom * 100)}% of ${memoryMb} MB`,
      met: met(share <= memoryRoom),
    });
  }
  if (m.runtimeMemory.length > 0)
    rows.push({
      fig: "6",
      measure: "peak RSS under npm start's runtime (tsx on the sources, fig 5)",
      ours: m.runtimeMemory
        .map((r) => `${r.name} ${r.peakRssBytes === undefined ? "?" : fmt.mib(r.peakRssBytes)}`)
        .join("; "),
      baseline: "",
      versus: "",
      target: "",
      met: "",
    });
  return rows;
}

const signed = (n: number) => `${n >= 0 ? "+" : "−"}${Math.abs(Math.round(n)).toLocaleString("en-US")}`;
