import type { FunctionSpec } from "@flxbl-lambda/core";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { Stack } from "sst/constructs";
import { Function as SstFunction, type Table } from "sst/constructs";

/** What every function's stack needs from the others. */
export interface FunctionWiring {
  /** FLXBL's API base for this stage (`FLXBL_URL`). */
  flxblUrl: string;
  /** This function's own secret, and no other. */
  secret: ISecret;
  table: Table;
}

/** The DynamoDB actions a function needs on the state table, by trigger. */
export const tableActions: Record<FunctionSpec["trigger"]["kind"], string[]> = {
  // Powertools idempotency records and the per-record lock.
  http: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
  // Run checkpoints and the per-record lock.
  schedule: ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
};

/** `expire-stale-orders` -> `ExpireStaleOrders`: construct ids from manifest names. */
export function pascal(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
}

/**
 * One manifest entry as a Lambda function: its timeout, memory and environment, and an IAM
 * policy that can read its own secret and use the state table, nothing more. (SST's
 * `permissions: [table]` would grant `dynamodb:*`; these statements are written out instead.)
 */
export function manifestFunction(stack: Stack, spec: FunctionSpec, wiring: FunctionWiring): SstFunction {
  const fn = new SstFunction(stack, pascal(spec.name), {
    handler: spec.handler,
    description: spec.description,
    timeout: spec.timeoutSeconds,
    memorySize: spec.memoryMb ?? 256,
    environment: {
      ...spec.environment,
      FLXBL_URL: wiring.flxblUrl,
      FLXBL_SECRET_ARN: wiring.secret.secretArn,
      STATE_TABLE_NAME: wiring.table.tableName,
      POWERTOOLS_SERVICE_NAME: spec.name,
    },
  });
  fn.addToRolePolicy(
    new PolicyStatement({ actions: ["secretsmanager:GetSecretValue"], resources: [wiring.secret.secretArn] }),
  );
  fn.addToRolePolicy(
    new PolicyStatement({ actions: tableActions[spec.trigger.kind], resources: [wiring.table.tableArn] }),
  );
  return fn;
}
