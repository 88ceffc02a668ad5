import { describe, expect, it } from "vitest";
import { compactMetricLine } from "./metric-lines.js";

const emf = (dimensions: string[], metrics: Array<[string, string, unknown]>, values: Record<string, string> = {}) =>
  JSON.stringify({
    _aws: {
      Timestamp: 1,
      CloudWatchMetrics: [
        {
          Namespace: "flxbl-lambda",
          Dimensions: [dimensions],
          Metrics: metrics.map(([Name, Unit]) => ({ Name, Unit })),
        },
      ],
    },
    service: "payments-webhook",
    stage: "local",
    ...values,
    ...Object.fromEntries(metrics.map(([name, , value]) => [name, value])),
  });

describe("compactMetricLine", () => {
  it("prints a document's metrics with their units, counts plain and value lists as a range", () => {
    const line = emf(
      ["service", "stage"],
      [
        ["WebhookReceived", "Count", 1],
        ["FlxblLatency", "Milliseconds", [3.14, 12.06]],
        ["JobSeconds", "Seconds", 0.25],
      ],
    );

    expect(compactMetricLine(line)).toBe("metrics WebhookReceived 1 · FlxblLatency 3.1–12.1 ms (2) · JobSeconds 0.3 s");
  });

  it("leaves out counts of zero, not other zeros", () => {
    const line = emf(
      ["service", "stage"],
      [
        ["FlxblCalls", "Count", 1],
        ["Flxbl429", "Count", 0],
        ["JobSeconds", "Seconds", 0],
      ],
    );

    expect(compactMetricLine(line)).toBe("metrics FlxblCalls 1 · JobSeconds 0 s");
  });

  it("names the dimensions beyond service and stage", () => {
    const line = emf(["service", "stage", "operation"], [["FlxblCalls", "Count", 2]], { operation: "Order:read" });

    expect(compactMetricLine(line)).toBe("metrics [operation=Order:read] FlxblCalls 2");
  });

  it.each([
    ["a log line", '{"level":"INFO","message":"order paid"}'],
    ["text", "started"],
    ["broken JSON that mentions _aws", '{"_aws": '],
    ["an _aws key without metrics", '{"_aws":{"Timestamp":1}}'],
  ])("leaves %s alone", (_what, line) => {
    expect(compactMetricLine(line)).toBeUndefined();
  });
});
