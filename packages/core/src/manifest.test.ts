import { describe, expect, it } from "vitest";
import { contractDefaults, defaultMetricsNamespace, functionEnvironment } from "./contract.js";
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
    const budgeted = [{ ...job, rateLimit: { rps: 12.5 } }] as const;
    expect(defineManifest(budgeted)).toBe(budgeted);
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
      'EventBridge wants "rate(1 minute)"',
    ],
    ["a timeout over Lambda's limit", [{ ...job, timeoutSeconds: 901 }], "timeoutSeconds must be an integer in 1..900"],
    ["an HTTP timeout over API Gateway's", [{ ...webhook, timeoutSeconds: 60 }], "must be <= 30"],
    ["memory out of range", [{ ...job, memoryMb: 64 }], "memoryMb"],
    ["a zero rate budget", [{ ...job, rateLimit: { rps: 0 } }], "rateLimit.rps must be a positive number"],
    ["a negative rate budget", [{ ...job, rateLimit: { rps: -5 } }], "rateLimit.rps must be a positive number"],
    ["an infinite rate budget", [{ ...job, rateLimit: { rps: Number.POSITIVE_INFINITY } }], "rateLimit.rps"],
    ["a rate budget that is not a number", [{ ...webhook, rateLimit: { rps: "20" } }], "rateLimit.rps"],
    ["a handler without an export", [{ ...job, handler: "packages/functions/src/jobs/x" }], "handler must be"],
    [
      "an environment that names another secret",
      [{ ...job, environment: { FLXBL_SECRET_ARN: "flxbl-lambda/prod/payments-webhook" } }],
      "environment may not set FLXBL_SECRET_ARN",
    ],
    [
      "an environment that points FLXBL elsewhere",
      [{ ...webhook, environment: { FLXBL_URL: "https://example.com" } }],
      "environment may not set FLXBL_URL",
    ],
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

describe("functionEnvironment", () => {
  const placement = {
    flxblUrl: "https://api.flxbl.dev/api/v1",
    secretId: "flxbl-lambda/prod/expire-stale-orders",
    tableName: "state",
    stage: "prod",
    secretTtlSeconds: 600,
  };

  it("writes where the function runs and the stage's cache settings, with the entry's own variables", () => {
    const env = functionEnvironment({ ...job, environment: { PENDING_ORDER_MAX_AGE: "PT24H" } }, placement);

    expect(env).toEqual({
      FLXBL_URL: placement.flxblUrl,
      FLXBL_SECRET_ARN: placement.secretId,
      STATE_TABLE_NAME: "state",
      APP_STAGE: "prod",
      FLXBL_SECRET_TTL_SECONDS: "600",
      FLXBL_SECRET_MAX_STALE_SECONDS: String(contractDefaults.maxStaleSeconds),
      POWERTOOLS_SERVICE_NAME: job.name,
      POWERTOOLS_METRICS_NAMESPACE: defaultMetricsNamespace,
      PENDING_ORDER_MAX_AGE: "PT24H",
    });
  });

  it("lets an entry tune its own secret cache, the value the stacks check the rotation grace against", () => {
    const env = functionEnvironment(
      { ...job, environment: { FLXBL_SECRET_TTL_SECONDS: "100", FLXBL_SECRET_MAX_STALE_SECONDS: "0" } },
      placement,
    );

    expect(env).toMatchObject({ FLXBL_SECRET_TTL_SECONDS: "100", FLXBL_SECRET_MAX_STALE_SECONDS: "0" });
  });

  it("never lets the entry's environment say where it runs or whose secret it reads", () => {
    const entry = { name: job.name, environment: { FLXBL_SECRET_ARN: "another-secret", FLXBL_URL: "https://x" } };

    expect(functionEnvironment(entry, placement)).toMatchObject({
      FLXBL_SECRET_ARN: placement.secretId,
      FLXBL_URL: placement.flxblUrl,
    });
  });
});
