import { type BenchContext, startWorker } from "../lib/context.js";
import { median } from "../lib/stats.js";

/** Figure 3 (and the cold part of 6): one function's bundle and its cold starts. */
export interface ColdRow {
  name: string;
  kind: "ours" | "baseline";
  bundleBytes: number;
  bundleGzipBytes: number;
  largestPackages: Array<{ name: string; bytes: number }>;
  runs: number;
  /** Median time to import the bundle (Lambda's init phase). */
  importMs: number;
  /** Median time of the first invocation (its secret read, first connections, JIT). */
  firstInvokeMs: number;
  /** Median import + first invocation: what a cold request waits for beyond node's own boot. */
  coldMs: number;
  /** Median time from the process's start to the first answer (node's boot included). */
  processToFirstAnswerMs: number;
  peakRssBytes: number;
  /** GetSecretValue calls per cold start (median). */
  smCallsPerColdStart: number;
}

/**
 * Figure 3: every bundle imported and invoked once in a fresh process, `runs` times, the
 * functions taken in turn so machine noise spreads over all of them.
 */
export async function coldFigures(
  ctx: BenchContext,
  names: readonly string[],
  firstEvent: (name: string) => unknown,
  runs: number,
): Promise<ColdRow[]> {
  const samples = new Map(
    names.map((n) => [
      n,
      {
        importMs: [] as number[],
        firstMs: [] as number[],
        sinceStart: [] as number[],
        rss: [] as number[],
        sm: [] as number[],
      },
    ]),
  );
  for (let run = 0; run < runs; run++) {
    for (const name of names) {
      const s = samples.get(name) as NonNullable<ReturnType<typeof samples.get>>;
      const sm = ctx.secrets.get(name)?.sm;
      const callsBefore = sm?.calls.GetSecretValue ?? 0;
      const worker = startWorker(ctx, name);
      try {
        const ready = await worker.ready();
        const out = await worker.invoke([firstEvent(name)]);
        if (out.failed > 0) throw new Error(`${name}: the first invocation failed: ${out.failures.join("; ")}`);
        s.importMs.push(ready.importMs);
        s.firstMs.push((out.micros[0] as number) / 1000);
        s.sinceStart.push(out.sinceStartMs);
        s.rss.push(out.peakRss);
        s.sm.push((sm?.calls.GetSecretValue ?? 0) - callsBefore);
      } finally {
        await worker.stop();
      }
    }
  }
  return names.map((name) => {
    const fn = ctx.functions.get(name);
    const s = samples.get(name) as NonNullable<ReturnType<typeof samples.get>>;
    if (!fn) throw new Error(`no bench function ${name}`);
    return {
      name,
      kind: fn.kind,
      bundleBytes: fn.bundle.bytes,
      bundleGzipBytes: fn.bundle.gzipBytes,
      largestPackages: fn.bundle.largestPackages,
      runs,
      importMs: median(s.importMs),
      firstInvokeMs: median(s.firstMs),
      coldMs: median(s.importMs.map((ms, i) => ms + (s.firstMs[i] as number))),
      processToFirstAnswerMs: median(s.sinceStart),
      peakRssBytes: median(s.rss),
      smCallsPerColdStart: median(s.sm),
    };
  });
}
