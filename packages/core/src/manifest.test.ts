import { describe, expect, it } from "vitest";
import { defineManifest, type FunctionSpec } from "./manifest.js";

const job: FunctionSpec = {
  name: "expire-stale-orders",
  handler: "packages/functions/src/jobs/expire-stale-orders.handler",
  trigger: { kind: "schedule", expression: "rate(15 minutes)" },
  scopes: ["entity:Order:read", "entity:Order:update"],
  timeoutSeconds: 300,
};

const webhook: FunctionSpec = {
  name: "payments-webhook",
  handler: "packages/functions/src/webhooks/payments.handler",
  trigger: { kind: "http", method: "POST", path: "/webhooks/payments" },
  signature: "stripe",
  scopes: ["entity:Order:read", "entity:Order:update"],
  timeoutSeconds: 10,
};

describe("defineManifest", () => {
  it("returns a valid manifest unchanged", () => {
    const manifest = [job, webhook] as const;
    expect(defineManifest(manifest)).toBe(manifest);
  });

  it.each([
    ["a duplicate name", [job, { ...job }], "name is used twice"],
    ["a duplicate route", [webhook, { ...webhook, name: "other" }], "route POST /webhooks/payments is used twice"],
    ["a name that is not kebab-case", [{ ...job, name: "ExpireOrders" }], "kebab-case"],
    [
      "a scope outside the grammar",
      [{ ...job, scopes: ["entity:Order:write"] }],
      '"entity:Order:write" is not a FLXBL scope',
    ],
    ["no scopes", [{ ...job, scopes: [] }], "declares no scopes"],
    [
      "a malformed schedule",
      [{ ...job, trigger: { kind: "schedule", expression: "rate(1 minutes)" } }],
      "is not an EventBridge",
    ],
    ["a timeout over Lambda's limit", [{ ...job, timeoutSeconds: 901 }], "timeoutSeconds must be an integer in 1..900"],
    ["an HTTP timeout over API Gateway's", [{ ...webhook, timeoutSeconds: 60 }], "must be <= 30"],
    ["memory out of range", [{ ...job, memoryMb: 64 }], "memoryMb"],
    ["a handler without an export", [{ ...job, handler: "packages/functions/src/jobs/x" }], "handler must be"],
  ])("refuses %s", (_, functions, message) => {
    expect(() => defineManifest(functions as FunctionSpec[])).toThrow(message);
  });

  it.each([
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(2 hours)",
    "rate(1 day)",
    "cron(0 6 * * ? *)",
    "cron(0/15 * ? * MON-FRI *)",
  ])("accepts the schedule %s", (expression) => {
    const spec = { ...job, trigger: { kind: "schedule" as const, expression: expression as `rate(${string})` } };
    expect(defineManifest([spec])).toHaveLength(1);
  });
});
