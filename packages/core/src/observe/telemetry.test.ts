import { startEmulator } from "@flxbl-lambda/emulator";
import { afterEach, describe, expect, it, vi } from "vitest";
import { appSchema } from "../../../emulator/src/test-helpers.js";
import { createFlxblClient } from "../flxbl/client.js";
import { metricNames } from "./catalog.js";
import { Telemetry } from "./telemetry.js";

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

  it("counts each FLXBL call in the invocation its bound client belongs to, however the invocations overlap", async () => {
    const flxbl = await startEmulator({ schema: appSchema, faults: { latencyMs: 5 } });
    try {
      const client = createFlxblClient({ baseUrl: flxbl.url, apiKey: flxbl.adminKey });
      const telemetry = new Telemetry({ serviceName: "overlap", stage: "test" });
      const invoke = async (calls: number) => {
        const invocation = telemetry.start();
        // As flxblHandler hands each invocation its client.
        const orders = client.bind({ metrics: invocation }).entity<{ number: string }>("Order");
        for (let i = 0; i < calls; i++) await orders.list({ limit: 1 });
        telemetry.finish(invocation);
      };

      const docs = await written(async () => {
        await Promise.all([invoke(1), invoke(2), invoke(3)]);
      });

      const totals = docs.filter((d) => !("operation" in d)).map((d) => d[metricNames.flxbl.calls]);
      expect(totals.sort()).toEqual([1, 2, 3]);
      for (const d of docs) expect(d).toMatchObject({ service: "overlap", stage: "test" });
      // The client unbound (outside any invocation) counts nowhere.
      const outside = await written(async () => {
        await client.entity("Order").list({ limit: 1 });
      });
      expect(outside).toEqual([]);
    } finally {
      await flxbl.close();
    }
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
