import { isTransientAwsError } from "../aws.js";

/**
 * The state table (DynamoDB) failed for a transient reason (throttling, a 5xx, no answer):
 * answered 503 + `Retry-After` by `httpErrors`, retried by Lambda for a job. Names the operation,
 * never an item's content.
 *
 * @example
 * ```ts
 * await context.lock.run(`order#${orderId}`, (hold) => orders.get(orderId, hold.callOptions)).catch((err) => {
 *   if (err instanceof StateUnavailableError) logger.warn("state table unavailable", { operation: err.operation });
 *   throw err;
 * });
 * ```
 */
export class StateUnavailableError extends Error {
  override name = "StateUnavailableError";
  constructor(
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    const cause = options?.cause as { name?: string } | undefined;
    super(`The state table is unavailable (${operation}: ${cause?.name ?? "error"}); it may pass on retry`, options);
  }
}

/**
 * An SDK error of a state-table call as core reports it: transient ones (throttling, 5xx, no
 * answer) become {@link StateUnavailableError}, answered 503; others are returned unchanged.
 *
 * @example
 * ```ts
 * import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
 *
 * const client = DynamoDBDocumentClient.from(sharedDynamoDbClient());
 * try {
 *   await client.send(new PutCommand({ TableName: stateTableName(env), Item: { id: "job#expire-stale-orders" } }));
 * } catch (err) {
 *   throw stateStoreError("saving a checkpoint", err);
 * }
 * ```
 */
export function stateStoreError(operation: string, err: unknown): unknown {
  return isTransientAwsError(err) ? new StateUnavailableError(operation, { cause: err }) : err;
}
