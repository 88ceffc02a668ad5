import type { AddressInfo } from "node:net";
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";

/** A running dynalite (DynamoDB on loopback). */
export interface LocalDynamoDB {
  /** What `AWS_ENDPOINT_URL_DYNAMODB` is set to. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts dynalite, the pure-JS DynamoDB implementation, on loopback: in memory, or in a LevelDB
 * folder when `path` is given (data then survives restarts).
 *
 * @example
 * ```ts
 * const ddb = await startLocalDynamoDB();
 * process.env.AWS_ENDPOINT_URL_DYNAMODB = ddb.url;
 * ```
 */
export async function startLocalDynamoDB(options: { port?: number; path?: string } = {}): Promise<LocalDynamoDB> {
  const server = dynalite({ path: options.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err?: Error) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * Creates the state table as the `Storage` stack defines it (partition key `id`, on-demand),
 * unless it exists. dynalite does not expire items; Powertools and the lock check expiry
 * themselves, so TTL only matters for clean-up in AWS.
 */
export async function ensureStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (err) {
    if ((err as Error).name !== "ResourceNotFoundException") throw err;
  }
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
}
