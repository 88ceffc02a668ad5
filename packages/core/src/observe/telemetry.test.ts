import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { metricNames } from "./catalog.js";
import { activeTelemetry, Telemetry } from "./telemetry.js";

/** The EMF documents written to stdout while `fn` runs. */
async function written(fn: () => Promise<void>): Promise<Array<Record<string, unknown>>> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split("\n"));
    return true;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return lines.filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("Telemetry", () => {
  afterEach(() => vi.restoreAllMocks());

  it("keeps invocations that overlap in one process apart, each written once with its own counts", async () => {
    const telemetry = new Telemetry({ serviceName: "overlap", stage: "test" });
    const invoke = async (n: number) => {
      const invocation = telemetry.start();
      await sleep(5);
      // What the client and the secret loader reach: the invocation this work belongs to.
      activeTelemetry()?.count(metricNames.keys.staleServes, n);
      await sleep(5);
      activeTelemetry()?.count(metricNames.keys.readFailures, n);
      telemetry.finish(invocation);
    };

    const docs = await written(async () => {
      await Promise.all([invoke(1), invoke(2), invoke(3)]);
    });

    expect(docs.map((d) => [d[metricNames.keys.staleServes], d[metricNames.keys.readFailures]]).sort()).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    for (const d of docs) expect(d).toMatchObject({ service: "overlap", stage: "test" });
  });

  it("writes at most 100 FLXBL latencies per invocation however many calls it made, and every call counted", async () => {
    const telemetry = new Telemetry({ serviceName: "many-calls", stage: "test", random: () => 0.5 });
    const docs = await written(async () => {
      const invocation = telemetry.start();
      for (let i = 0; i < 250; i++)
        await invocation.flxblCall({ name: "Order", op: i % 5 === 0 ? "read" : "update" }, "PATCH", async (facts) => {
          facts.attempts = 1;
          facts.status = 200;
        });
      telemetry.finish(invocation);
    });

    const [main, ...byOperation] = docs;
    expect(main?.[metricNames.flxbl.calls]).toBe(250);
    expect(main?.[metricNames.flxbl.latency]).toHaveLength(100);
    expect(Object.fromEntries(byOperation.map((d) => [d.operation, d[metricNames.flxbl.calls]]))).toEqual({
      "Order:read": 50,
      "Order:update": 200,
    });
    expect(byOperation.find((d) => d.operation === "Order:update")?.[metricNames.flxbl.latency]).toHaveLength(100);
    expect(byOperation.find((d) => d.operation === "Order:read")?.[metricNames.flxbl.latency]).toHaveLength(50);
  });

  it("writes nothing for an invocation that counted nothing", async () => {
    const telemetry = new Telemetry({ serviceName: "idle", stage: "test" });
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => undefined);

    const docs = await written(async () => {
      telemetry.finish(telemetry.start());
    });

    expect(docs).toEqual([]);
    expect(warnings).not.toHaveBeenCalled();
  });
});
