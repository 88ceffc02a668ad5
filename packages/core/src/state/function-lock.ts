import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { FunctionEnv } from "../env.js";
import { KeyedLock } from "./lock.js";

/**
 * A function's lock: the lock namespaces its manifest entry declares, on its state table
 * (`STATE_TABLE_NAME`); a function with no state table gets a lock that refuses every key.
 * `webhookHandler` and `jobHandler` give it to their handlers as `context.lock`; a plain
 * `flxblHandler` takes it as its `lock` option, so a function that locks nothing carries no
 * DynamoDB client.
 *
 * @example
 * ```ts
 * const env = readFunctionEnv(process.env);
 * export const handler = flxblHandler({ spec, env, lock: functionLock({ spec, env }) }, async (event: { orderId: string }, context) =>
 *   context.lock.run(`order#${event.orderId}`, async (hold) => context.flxbl.entity<Order>("Order").get(event.orderId, hold.callOptions)),
 * );
 * ```
 */
export function functionLock(options: {
  spec: { name: string; locks?: readonly string[] };
  env: Pick<FunctionEnv, "STATE_TABLE_NAME">;
  /** @default the container's shared client */
  dynamodb?: DynamoDBClient;
}): KeyedLock {
  const tableName = options.env.STATE_TABLE_NAME;
  if (tableName)
    return new KeyedLock({
      tableName,
      namespaces: options.spec.locks ?? [],
      client: options.dynamodb && DynamoDBDocumentClient.from(options.dynamodb),
    });
  return {
    run: async () => {
      throw new Error(`${options.spec.name} has no state table (STATE_TABLE_NAME) to lock on`);
    },
  } as unknown as KeyedLock;
}
