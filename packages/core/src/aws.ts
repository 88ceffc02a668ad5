import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { traceAwsClient } from "./observe/tracing.js";

/**
 * The SDK settings every client in a function uses: a hung Secrets Manager or DynamoDB (a
 * connection that is accepted and never answered) fails a call within about two seconds, so the
 * invocation answers 503 + `Retry-After` well inside its deadline instead of hanging until Lambda
 * kills it. The SDK's defaults have no request timeout at all.
 * - `connectionTimeout` 500 ms: a TCP connect to an AWS endpoint takes a few ms.
 * - `requestTimeout` 1000 ms, thrown (not only warned about): both services answer in tens of ms.
 * - `maxAttempts` 2: one retry of a throttled or timed-out call, ~2.1 s in the worst case.
 *
 * @example
 * ```ts
 * import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
 *
 * const replica = new DynamoDBClient({ ...awsClientDefaults, region: "eu-west-1" });
 * ```
 */
export const awsClientDefaults = {
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 500, requestTimeout: 1_000, throwOnRequestTimeout: true },
} as const;

let dynamodb: DynamoDBClient | undefined;
let secretsManager: SecretsManagerClient | undefined;

/**
 * The container's DynamoDB client (idempotency records, locks, job checkpoints), made once with
 * {@link awsClientDefaults}. It reads `AWS_ENDPOINT_URL_DYNAMODB`, so `npm start` and the tests
 * reach dynalite with no code change.
 *
 * @example
 * ```ts
 * import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
 *
 * const lock = new KeyedLock({ tableName: stateTableName(env), client: DynamoDBDocumentClient.from(sharedDynamoDbClient()) });
 * ```
 */
export function sharedDynamoDbClient(): DynamoDBClient {
  dynamodb ??= traceAwsClient(new DynamoDBClient({ ...awsClientDefaults }));
  return dynamodb;
}

/**
 * The container's Secrets Manager client, made once with {@link awsClientDefaults}. It reads
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
 *
 * @example
 * ```ts
 * const loader = new SecretLoader({ secretId, client: sharedSecretsManagerClient() });
 * ```
 */
export function sharedSecretsManagerClient(): SecretsManagerClient {
  secretsManager ??= traceAwsClient(new SecretsManagerClient({ ...awsClientDefaults }));
  return secretsManager;
}

/**
 * Forgets the shared clients, so the next call builds new ones from the current environment
 * (tests that point the SDK somewhere else).
 *
 * @example
 * ```ts
 * import { afterEach } from "vitest";
 *
 * afterEach(() => clearSharedAwsClients());
 * ```
 */
export function clearSharedAwsClients(): void {
  dynamodb = undefined;
  secretsManager = undefined;
}

const throttlingErrors = new Set([
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "LimitExceededException",
  "ProvisionedThroughputExceededException",
]);

/**
 * Whether an AWS SDK call may pass if tried again: throttling, a 5xx, or no answer at all
 * (refused or reset connection, timeout). A client fault (not found, denied, invalid request,
 * a failed condition) is not.
 *
 * @example
 * ```ts
 * import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
 *
 * try {
 *   await sharedDynamoDbClient().send(new DescribeTableCommand({ TableName: stateTableName(env) }));
 * } catch (err) {
 *   if (isTransientAwsError(err)) throw new RetryLaterError("DynamoDB is unavailable", 5, { cause: err });
 *   throw err;
 * }
 * ```
 */
export function isTransientAwsError(err: unknown): boolean {
  const e = err as { name?: string; $fault?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (throttlingErrors.has(e?.name ?? "")) return true;
  const status = e?.$metadata?.httpStatusCode;
  if (e?.$fault === "server" || (status !== undefined && status >= 500)) return true;
  if (e?.$fault === "client" || (status !== undefined && status >= 400)) return false;
  return true;
}
