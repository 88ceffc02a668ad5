import type { StackContext } from "sst/constructs";
import { Table } from "sst/constructs";

/** One DynamoDB table for idempotency records and job checkpoints; items expire through `expiration`. */
export function Storage({ stack }: StackContext) {
  const table = new Table(stack, "State", {
    fields: { id: "string" },
    primaryIndex: { partitionKey: "id" },
    timeToLiveAttribute: "expiration",
    cdk: { table: { pointInTimeRecovery: stack.stage === "prod" } },
  });
  stack.addOutputs({ TableName: table.tableName });
  return { table };
}
