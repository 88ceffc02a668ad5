import { IdempotencyConfig } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { makeHandlerIdempotent } from "@aws-lambda-powertools/idempotency/middleware";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { MiddlewareObj, Request } from "@middy/core";
import type { SignatureScheme } from "../manifest.js";

/**
 * Options of {@link webhookIdempotency}.
 *
 * @example
 * ```ts
 * const options: WebhookIdempotencyOptions = { tableName: stateTableName(env), scheme: "standard-webhooks" };
 * handler.use(webhookIdempotency(options));
 * ```
 */
export interface WebhookIdempotencyOptions {
  /** The state table (`STATE_TABLE_NAME`): partition key `id`, TTL attribute `expiration`. */
  tableName: string;
  /** Where the sender's event id is: Stripe's body `id`, or the `webhook-id` header. */
  scheme: SignatureScheme;
  /** How long a completed event is remembered. Stripe retries for up to 3 days. @default 604800 (7 days) */
  expiresAfterSeconds?: number;
  /** @default a default `DynamoDBClient` (reads `AWS_ENDPOINT_URL_DYNAMODB`) */
  client?: DynamoDBClient;
}

/** Where each scheme carries the sender's event id (JMESPath over the API Gateway event). */
const eventIdPath: Record<SignatureScheme, string> = {
  stripe: "powertools_json(body).id",
  "standard-webhooks": 'headers."webhook-id"',
};

/**
 * Powertools Idempotency on DynamoDB, keyed by the sender's event id: a delivery seen before
 * gets the stored response, one still in progress fails with `IdempotencyAlreadyInProgressError`
 * (answered 503 + `Retry-After`), and a failed attempt deletes its record so a redelivery
 * applies the event. Use it after {@link webhook}, so only verified events are recorded.
 *
 * @example
 * ```ts
 * handler.use(webhook({ ... })).use(webhookIdempotency({ tableName: stateTableName(env), scheme: "stripe" }));
 * ```
 */
export function webhookIdempotency(options: WebhookIdempotencyOptions): MiddlewareObj {
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: options.tableName,
    awsSdkV3Client: options.client,
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: eventIdPath[options.scheme],
    expiresAfterSeconds: options.expiresAfterSeconds ?? 7 * 24 * 3600,
    throwOnNoIdempotencyKey: true,
  });
  const idempotent = makeHandlerIdempotent({ persistenceStore, config }) as Required<
    Pick<MiddlewareObj, "before" | "after" | "onError">
  >;

  // Powertools (2.35) deletes the record in onError even when its own `before` refused the request:
  // a duplicate answered "in progress" removed the running original's record, so the next
  // delivery applied the event a second time (aws-powertools/powertools-lambda-typescript#5675).
  // Only a request that acquired the record may delete it.
  const webhookIdempotencyMiddlewareBefore = async (request: Request) => {
    const internal = request.internal as Record<string, unknown>;
    internal[ownsRecord] = false;
    const stored = await idempotent.before(request);
    // A stored response is a replay; no response means this request holds the in-progress record.
    if (stored === undefined) internal[ownsRecord] = true;
    return stored;
  };
  const webhookIdempotencyMiddlewareOnError = async (request: Request) => {
    if ((request.internal as Record<string, unknown>)[ownsRecord] !== true) return;
    await idempotent.onError(request);
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
