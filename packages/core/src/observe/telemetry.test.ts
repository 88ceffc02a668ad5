import { startEmulator } from "@flxbl-lambda/emulator";
import { afterEach, describe, expect, it, vi } from "vitest";
import { appSchema } from "../../../emulator/src/test-helpers.js";
import { createFlxblClient } from "../flxbl/client.js";
import { flxblHandler } from "../lambda.js";
import { createLogger } from "../log/logger.js";
import { lambdaContext } from "../testing/lambda-events.js";
import { captureMetrics } from "../testing/metrics-capture.js";
import { metricNames } from "./catalog.js";
import { Telemetry } from "./telemetry.js";

/** Writes to stdout that carried EMF, during the last {@link written}. */
let writes = 0;

/** The EMF documents written to stdout while `fn` runs. */
async function written(fn: () => Promise<void>): Promise<Array<Record<string, unknown>>> {
  const captured = await captureMetrics(fn);
  writes = captured.writes;
  return captured.documents;
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

  it("writes at most 99 FLXBL latencies per invocation however many calls it made, every call counted, in one write", async () => {
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

    expect(writes).toBe(1);
    const [main, ...byOperation] = docs;
    expect(main?.[metricNames.flxbl.calls]).toBe(250);
    expect(main?.[metricNames.flxbl.latency]).toHaveLength(99);
    expect(Object.fromEntries(byOperation.map((d) => [d.operation, d[metricNames.flxbl.calls]]))).toEqual({
      "Order:read": 50,
      "Order:update": 200,
    });
    expect(byOperation.find((d) => d.operation === "Order:update")?.[metricNames.flxbl.latency]).toHaveLength(99);
    expect(byOperation.find((d) => d.operation === "Order:read")?.[metricNames.flxbl.latency]).toHaveLength(50);
  });

  it("writes a handler's own metrics as a document of their own: its dimensions and metadata never reach the built-ins or the next invocation", async () => {
    const telemetry = new Telemetry({ serviceName: "own-metrics", stage: "test" });
    const first = await written(async () => {
      const invocation = telemetry.start();
      invocation.count(metricNames.webhook.received);
      telemetry.metrics.addDimension("tenant", "t1");
      telemetry.metrics.addMetadata("orderId", "o1");
      telemetry.metrics.addMetric("OrdersSeen", "Count", 3);
      telemetry.finish(invocation);
    });
    const second = await written(async () => {
      const invocation = telemetry.start();
      invocation.count(metricNames.webhook.received);
      telemetry.finish(invocation);
    });

    const dimensions = (d: Record<string, unknown>) =>
      (d._aws as { CloudWatchMetrics: Array<{ Dimensions: string[][] }> }).CloudWatchMetrics[0]?.Dimensions;
    const builtIn = first.find((d) => metricNames.webhook.received in d);
    const own = first.find((d) => "OrdersSeen" in d);
    expect(writes).toBe(1);
    expect(dimensions(builtIn ?? {})).toEqual([["service", "stage"]]);
    expect(builtIn).not.toHaveProperty("tenant");
    expect(own).toMatchObject({ OrdersSeen: 3, tenant: "t1", orderId: "o1" });
    expect(second).toHaveLength(1);
    expect(second[0]).not.toHaveProperty("orderId");
    expect(second[0]).not.toHaveProperty("tenant");
  });

  it("answers an invocation whose outcome reader throws, with the rest of its metrics written", async () => {
    const telemetry = new Telemetry({ serviceName: "broken-outcome", stage: "test" });
    const handler = flxblHandler(
      {
        spec: { name: "broken-outcome", scopes: [] },
        env: { FLXBL_URL: "http://127.0.0.1:9/api/v1", FLXBL_SECRET_ARN: "unused" },
        // Never read: the handler calls nothing.
        secrets: { prefetch: () => undefined, apiKeySource: () => ({ get: async () => "unused" }) } as never,
        logger: createLogger({ serviceName: "broken-outcome", logLevel: "SILENT" }),
        telemetry,
        outcome: (_request, metrics) => {
          metrics.count("BeforeTheBug");
          throw new Error("a bug in an outcome reader");
        },
      },
      async () => ({ statusCode: 200, body: "done" }),
    );

    let answer: unknown;
    const docs = await written(async () => {
      answer = await handler({}, lambdaContext({ functionName: "broken-outcome", timeoutSeconds: 10 }));
    });

    expect(answer).toEqual({ statusCode: 200, body: "done" });
    expect(docs).toEqual([expect.objectContaining({ BeforeTheBug: 1, service: "broken-outcome" })]);
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
