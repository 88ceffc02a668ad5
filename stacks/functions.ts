import { type FunctionSpec, functionEnvironment, idempotencyKeyPrefix, lockItemId } from "@flxbl-lambda/core";
import { Duration } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { FilterPattern, MetricFilter } from "aws-cdk-lib/aws-logs";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { Stack } from "sst/constructs";
import { Function as SstFunction, type Table } from "sst/constructs";
import { suppressFunctionFindings } from "./nag.js";

/** What every function's stack needs from the others. */
export interface FunctionWiring {
  /** FLXBL's API base for this stage (`FLXBL_URL`). */
  flxblUrl: string;
  /** This function's own secret, and no other. */
  secret: ISecret;
  table: Table;
  /** The stage (`APP_STAGE`). */
  stage: string;
  /** How long each function keeps its secret in memory (`FLXBL_SECRET_TTL_SECONDS`). */
  secretTtlSeconds: number;
  /** The CloudWatch namespace of its metrics (`POWERTOOLS_METRICS_NAMESPACE`): the SST app's name. */
  metricsNamespace: string;
  /** Concurrency reserved for (and capping) the function; `undefined` reserves none. */
  reservedConcurrency?: number;
}

/**
 * What every function gets for tracing, besides X-Ray active tracing: no response bodies in
 * the traces (a webhook's answer or a FLXBL record would otherwise land in X-Ray's metadata).
 */
export const tracingEnvironment = { POWERTOOLS_TRACER_CAPTURE_RESPONSE: "false" } as const;

/** The DynamoDB actions a function needs on the state table, by trigger. */
export const tableActions: Record<FunctionSpec["trigger"]["kind"], string[]> = {
  // Powertools idempotency records and the per-record lock.
  http: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
  // Run checkpoints and the per-record lock.
  schedule: ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
};

/**
 * The state-table partition keys a function may touch (`dynamodb:LeadingKeys`), from its manifest
 * entry: its own idempotency records (webhooks) or run checkpoint (jobs), and the lock
 * namespaces it declares. Another function's items are out of its reach.
 */
export function stateKeyPatterns(spec: FunctionSpec): string[] {
  const own = spec.trigger.kind === "http" ? `${idempotencyKeyPrefix(spec.name)}#*` : `job#${spec.name}`;
  return [own, ...(spec.locks ?? []).map((ns) => lockItemId(`${ns}#*`))];
}

/** `expire-stale-orders` -> `ExpireStaleOrders`: construct ids from manifest names. */
export function pascal(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
}

/**
 * One manifest entry as a Lambda function: its timeout, memory and environment, and an IAM
 * policy that can read its own secret and use its own items of the state table, nothing more. (SST's
 * `permissions: [table]` would grant `dynamodb:*`; these statements are written out instead.)
 */
export function manifestFunction(stack: Stack, spec: FunctionSpec, wiring: FunctionWiring): SstFunction {
  const fn = new SstFunction(stack, pascal(spec.name), {
    handler: spec.handler,
    description: spec.description,
    timeout: spec.timeoutSeconds,
    memorySize: spec.memoryMb ?? 256,
    // Set here, not only as an app default in sst.config.ts, so every synth of the stacks has it.
    tracing: "active",
    reservedConcurrentExecutions: wiring.reservedConcurrency,
    environment: {
      ...functionEnvironment(spec, {
        flxblUrl: wiring.flxblUrl,
        secretId: wiring.secret.secretArn,
        tableName: wiring.table.tableName,
        stage: wiring.stage,
        secretTtlSeconds: wiring.secretTtlSeconds,
        metricsNamespace: wiring.metricsNamespace,
      }),
      ...tracingEnvironment,
    },
  });
  fn.addToRolePolicy(
    new PolicyStatement({ actions: ["secretsmanager:GetSecretValue"], resources: [wiring.secret.secretArn] }),
  );
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: tableActions[spec.trigger.kind],
      resources: [wiring.table.tableArn],
      conditions: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": stateKeyPatterns(spec) } },
    }),
  );
  // A broken invariant (an order expired while holding a payment, say) is logged with
  // `invariantViolation`; it never should happen, so one is an alarm.
  const violations = new MetricFilter(stack, `${pascal(spec.name)}InvariantViolations`, {
    logGroup: fn.logGroup,
    filterPattern: FilterPattern.exists("$.invariantViolation"),
    metricNamespace: "FlxblLambda",
    metricName: `InvariantViolations-${spec.name}`,
    metricValue: "1",
  });
  new Alarm(stack, `${pascal(spec.name)}InvariantViolated`, {
    alarmDescription: `${spec.name} logged a broken invariant (see its log for invariantViolation)`,
    metric: violations.metric({ statistic: "Sum", period: Duration.minutes(5) }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  suppressFunctionFindings(fn, spec.trigger.kind === "http" ? "webhook" : "job");
  return fn;
}

/**
 * The webhook API's access-log line: SST's fields, every value quoted so each line is valid JSON
 * (CloudWatch Logs Insights parses it; cdk-nag's structured-logging rule checks it). No headers,
 * no body: a delivery's signature never reaches a log.
 */
export const webhookAccessLogFormat = JSON.stringify({
  requestTime: "$context.requestTime",
  requestId: "$context.requestId",
  httpMethod: "$context.httpMethod",
  path: "$context.path",
  routeKey: "$context.routeKey",
  status: "$context.status",
  responseLatency: "$context.responseLatency",
  integrationRequestId: "$context.integration.requestId",
  integrationStatus: "$context.integration.status",
  integrationLatency: "$context.integration.latency",
  integrationError: "$context.integration.error",
  ip: "$context.identity.sourceIp",
  userAgent: "$context.identity.userAgent",
});
