import { randomUUID } from "node:crypto";
import { type JobSummary, lambdaContext, scheduledEvent } from "@flxbl-lambda/core";
import { afterEach, describe, expect, it } from "vitest";
import { expireStaleOrders as spec } from "../manifest.js";
import { Harness, type LambdaHandler } from "../test-harness.js";

const dayMs = 24 * 3600 * 1000;

/** `n` pending orders created two days ago (seeded, so creation time can be in the past), plus fresh ones. */
function seed(stale: number, fresh = 0, other = 0) {
  const old = new Date(Date.now() - 2 * dayMs).toISOString();
  const order = (i: number, status: string, createdAt?: string) => ({
    id: `node_${randomUUID()}`,
    number: `ORD-${status}-${i}`,
    status,
    total: 1000 + i,
    currency: "eur",
    ...(createdAt ? { createdAt } : {}),
  });
  return {
    records: {
      Order: [
        ...Array.from({ length: stale }, (_, i) => order(i, "pending", old)),
        ...Array.from({ length: fresh }, (_, i) => order(stale + i, "pending")),
        ...Array.from({ length: other }, (_, i) => order(stale + fresh + i, "paid", old)),
      ],
    },
  };
}

describe("expire-stale-orders against the emulator and dynalite", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const start = async (records: ReturnType<typeof seed>, env: Record<string, string> = {}) => {
    h = await Harness.start({ seed: records });
    const fn = await h.provision(spec);
    const handler = await h.load(spec, fn, { PENDING_ORDER_MAX_AGE: "PT24H", ...env });
    return { h, handler };
  };
  const invoke = (handler: LambdaHandler, timeoutSeconds: number = spec.timeoutSeconds) =>
    handler(
      scheduledEvent(spec.name),
      lambdaContext({ functionName: spec.name, timeoutSeconds }),
    ) as Promise<JobSummary>;
  const countOrders = async (harness: Harness, where: Record<string, unknown>) =>
    (
      await harness.admin<{ totalCount: number }>("POST", "/dynamic/Order/query", {
        where,
        includeCount: true,
        limit: 1,
      })
    ).totalCount;

  it("expires all 2,500 stale orders in one run with pages of 100, and no other order", {
    timeout: 90_000,
  }, async () => {
    const { h, handler } = await start(seed(2500, 40, 60));
    h.flxbl.resetStats();

    const summary = await invoke(handler);

    expect(summary).toMatchObject({ complete: true, scanned: 2500, changed: 2500, unchanged: 0, failed: 0 });
    expect(summary.pages).toBe(26);
    expect(h.flxbl.stats().routes["PATCH /dynamic/Order/:id"]).toBe(2500);
    expect(await countOrders(h, { status: "expired" })).toBe(2500);
    expect(await countOrders(h, { status: "pending" })).toBe(40);
    expect(await countOrders(h, { status: "paid" })).toBe(60);
  });

  it("finishes over several invocations when the deadline cuts runs short, changing every order exactly once", async () => {
    const { h, handler } = await start(seed(1000));
    h.flxbl.resetStats();

    const summaries: JobSummary[] = [];
    for (let i = 0; i < 30; i++) {
      const summary = await invoke(handler, 3);
      summaries.push(summary);
      if (summary.complete) break;
    }

    const last = summaries.at(-1) as JobSummary;
    expect(summaries.length).toBeGreaterThanOrEqual(2);
    expect(last.complete).toBe(true);
    expect(summaries.slice(1).every((s) => s.resumedFrom !== null)).toBe(true);
    expect(summaries.reduce((n, s) => n + s.changed, 0)).toBe(1000);
    expect(last.run.changed).toBe(1000);
    expect(h.flxbl.stats().routes["PATCH /dynamic/Order/:id"]).toBe(1000);
    expect(await countOrders(h, { status: "expired" })).toBe(1000);
  });

  it("ends complete with nothing failed when FLXBL throttles mid-run", async () => {
    const { h, handler } = await start(seed(300));
    // Each 429 holds the job's key for its Retry-After (1 s) and the calls go one by one after it,
    // so five 429s in a row cost the run about five seconds.
    const burst = setTimeout(
      () => h.flxbl.configure({ faults: { rateLimitBurst: 5, rateLimitBurstRetryAfter: 1 } }),
      30,
    );

    const summary = await invoke(handler);
    clearTimeout(burst);

    expect(summary).toMatchObject({ complete: true, changed: 300, failed: 0 });
    expect(h.flxbl.stats().statuses["429"]).toBe(5);
    expect(await countOrders(h, { status: "expired" })).toBe(300);
  });

  it("changes nothing when run again after a finished run", async () => {
    const { h, handler } = await start(seed(300));
    await invoke(handler);
    h.flxbl.resetStats();

    const again = await invoke(handler);

    expect(again).toMatchObject({ complete: true, scanned: 0, changed: 0, resumedFrom: null });
    expect(h.flxbl.stats().routes["PATCH /dynamic/Order/:id"]).toBeUndefined();
  });

  it("lets only one of two overlapping invocations own the run", async () => {
    const { h, handler } = await start(seed(800));
    h.flxbl.resetStats();

    const [a, b] = await Promise.all([invoke(handler), invoke(handler)]);

    const owners = [a, b].filter((s) => s.skipped === undefined);
    const skipped = [a, b].filter((s) => s.skipped !== undefined);
    expect(owners).toHaveLength(1);
    expect(skipped).toHaveLength(1);
    expect(owners[0]?.changed).toBe(800);
    expect(h.flxbl.stats().routes["PATCH /dynamic/Order/:id"]).toBe(800);
  });

  it("expires every pending order with PENDING_ORDER_MAX_AGE=PT0S", async () => {
    const { h, handler } = await start(seed(10, 15, 5), { PENDING_ORDER_MAX_AGE: "PT0S" });
    const summary = await invoke(handler);
    expect(summary.changed).toBe(25);
    expect(await countOrders(h, { status: "pending" })).toBe(0);
    expect(await countOrders(h, { status: "paid" })).toBe(5);
  });

  it("refuses an invalid PENDING_ORDER_MAX_AGE at cold start with a clear error", async () => {
    h = await Harness.start();
    const fn = await h.provision(spec);
    await expect(h.load(spec, fn, { PENDING_ORDER_MAX_AGE: "24 hours" })).rejects.toThrow(
      /PENDING_ORDER_MAX_AGE: "24 hours" is not an ISO 8601 duration/,
    );
  });

  it("isolates per-record failures, reports them, and fails the invocation so Lambda retries", async () => {
    const { h, handler } = await start(seed(200));
    h.flxbl.configure({ faults: { errorRate: 0.6, errorStatus: 500 } });

    const error = await invoke(handler).then(
      () => undefined,
      (err: unknown) => err as Error & { summary: JobSummary },
    );
    h.flxbl.configure({ faults: { errorRate: 0 } });
    const retry = await invoke(handler);

    expect(error?.name).toBe("JobFailedError");
    const failed = error?.summary as JobSummary;
    expect(failed.failed).toBeGreaterThan(0);
    expect(failed.changed + failed.failed).toBe(200);
    expect(failed.failures.length).toBe(Math.min(20, failed.failed));
    expect(retry).toMatchObject({ complete: true, failed: 0 });
    expect(await countOrders(h, { status: "expired" })).toBe(200);
  });

  it("reports figures that match what the emulator shows", async () => {
    const { h, handler } = await start(seed(150, 20, 30));
    const summary = await invoke(handler);
    expect(summary.changed).toBe(await countOrders(h, { status: "expired" }));
    expect(summary.scanned).toBe(summary.changed + summary.unchanged + summary.failed);
  });
});
