import { IdempotencyConfig } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { makeHandlerIdempotent } from "@aws-lambda-powertools/idempotency/middleware";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { MiddlewareObj, Request } from "@middy/core";
import { sharedDynamoDbClient } from "../aws.js";
import { type SignatureSchemeName, signatureScheme } from "../webhooks/scheme.js";
import type { WebhookContext } from "./webhook.js";

/**
 * Options of {@link webhookIdempotency}.
 *
 * @example
 * ```ts
 * const options: WebhookIdempotencyOptions = {
 *   tableName: stateTableName(env),
 *   functionName: "inventory-webhook",
 *   scheme: "standard-webhooks",
 *   logger,
 * };
 * handler.use(webhookIdempotency(options));
 * ```
 */
export interface WebhookIdempotencyOptions {
  /** The state table (`STATE_TABLE_NAME`): partition key `id`, TTL attribute `expiration`. */
  tableName: string;
  /**
   * The function's manifest name: its records are `idem#<functionName>#<hash>`, the key prefix
   * its IAM policy is limited to (see {@link idempotencyKeyPrefix}).
   */
  functionName: string;
  /** Where a record that could not be released is reported (with the original error). */
  logger: Pick<Logger, "error">;
  /** The sender's signature scheme: what of the payload must match when an id is seen again. */
  scheme: SignatureSchemeName;
  /** How long a completed event is remembered. Stripe retries for up to 3 days. @default 604800 (7 days) */
  expiresAfterSeconds?: number;
  /** @default the container's shared `DynamoDBClient` (reads `AWS_ENDPOINT_URL_DYNAMODB`, has timeouts) */
  client?: DynamoDBClient;
}

/**
 * The partition-key prefix of a function's idempotency records in the state table.
 *
 * @example
 * ```ts
 * idempotencyKeyPrefix("payments-webhook"); // "idem#payments-webhook"
 * ```
 */
export function idempotencyKeyPrefix(functionName: string): string {
  return `idem#${functionName}`;
}

/**
 * Powertools Idempotency on DynamoDB, keyed by the event id {@link webhook} verified (the one
 * source of it: `context.webhook.id`, found by the sender's scheme): a delivery seen before
 * gets the stored response, one still in progress fails with `IdempotencyAlreadyInProgressError`
 * (answered 503 + `Retry-After`), the same id with a different payload fails with
 * `IdempotencyValidationError` (answered 409), and a failed attempt deletes its record so a
 * redelivery applies the event. If that delete fails too (DynamoDB down), the failure is logged
 * and the original error is still answered (503 for an outage), never masked by the clean-up's.
 * Use it after {@link webhook}, so only verified events are recorded.
 *
 * @example
 * ```ts
 * handler
 *   .use(webhook({ scheme: "stripe", secrets: loader, logger }))
 *   .use(webhookIdempotency({ tableName: stateTableName(env), functionName: "payments-webhook", scheme: "stripe", logger }));
 * ```
 */
export function webhookIdempotency(options: WebhookIdempotencyOptions): MiddlewareObj {
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: options.tableName,
    awsSdkV3Client: options.client ?? sharedDynamoDbClient(),
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: "id",
    payloadValidationJmesPath: "payload",
    expiresAfterSeconds: options.expiresAfterSeconds ?? 7 * 24 * 3600,
    throwOnNoIdempotencyKey: true,
  });
  const idempotent = makeHandlerIdempotent({
    persistenceStore,
    config,
    keyPrefix: idempotencyKeyPrefix(options.functionName),
  }) as Required<Pick<MiddlewareObj, "before" | "after" | "onError">>;

  // Powertools (2.35) deletes the record in onError even when its own `before` refused the request:
  // a duplicate answered "in progress" removed the running original's record, so the next
  // delivery applied the event a second time (aws-powertools/powertools-lambda-typescript#5675).
  // Only a request that acquired the record may delete it.
  const scheme = signatureScheme(options.scheme);
  const comparable = scheme.comparable ?? ((payload: Record<string, unknown>) => payload);
  const webhookIdempotencyMiddlewareBefore = async (request: Request) => {
    const internal = request.internal as Record<string, unknown>;
    internal[ownsRecord] = false;
    const verified = (request.context as WebhookContext).webhook;
    if (!verified) throw new Error("webhookIdempotency needs the webhook middleware before it (context.webhook)");
    // Powertools hashes `request.event`: for the length of its check, the event is what identifies
    // the delivery: the verified id, and what of the payload must match when the id is seen again.
    const event = request.event;
    request.event = { id: verified.id, payload: comparable(verified.payload) };
    let stored: unknown;
    try {
      stored = await idempotent.before(request);
    } finally {
      request.event = event;
    }
    // A stored response is a replay; no response means this request holds the in-progress record.
    if (stored === undefined) internal[ownsRecord] = true;
    return stored;
  };
  const webhookIdempotencyMiddlewareOnError = async (request: Request) => {
    if ((request.internal as Record<string, unknown>)[ownsRecord] !== true) return;
    try {
      await idempotent.onError(request);
    } catch (cleanup) {
      // middy stops at a throwing onError and answers nothing: the original error (an outage,
      // answered 503) would become a bare 500. The record expires on its own (in-progress
      // records last the invocation's remaining time), and the redelivery applies the event.
      options.logger.error("could not release the event's in-progress idempotency record", {
        error: cleanup as Error,
        originalError: request.error as Error,
      });
    }
  };
  return {
    name: "webhookIdempotency",
    before: webhookIdempotencyMiddlewareBefore,
    after: idempotent.after,
    onError: webhookIdempotencyMiddlewareOnError,
  };
}

/** `request.internal` key: this request acquired the event's in-progress record. */
const ownsRecord = "webhookIdempotency.ownsRecord";
