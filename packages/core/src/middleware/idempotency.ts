import { AsyncLocalStorage } from "node:async_hooks";
import {
  PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS as attr,
  IdempotencyConfig,
  IdempotencyItemAlreadyExistsError,
  IdempotencyRecordStatus,
} from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { makeHandlerIdempotent } from "@aws-lambda-powertools/idempotency/middleware";
import { IdempotencyRecord } from "@aws-lambda-powertools/idempotency/persistence";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { MiddlewareObj, Request } from "@middy/core";
import { sharedDynamoDbClient } from "../aws.js";
import type { HandlerContext } from "../lambda.js";
import { KeyedLock, type LockLease, type RecordLock } from "../state/lock.js";
import { type SignatureSchemeName, signatureScheme } from "../webhooks/scheme.js";
import type { VerifiedWebhook, WebhookContext } from "./webhook.js";

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
  /**
   * The lock key of the record an event changes (`order#<id>`), or undefined for none: that lock
   * is taken in the same `TransactWriteItems` as the event's idempotency record and let go in the
   * same one as the record's completion, and `context.lock.run` on that key runs under it with no
   * further call. Needs `context.lock` to be a {@link KeyedLock} (as `flxblHandler` sets it).
   * @default no lock is taken with the record
   */
  lockKey?: (webhook: VerifiedWebhook) => string | undefined;
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
 * With `lockKey`, the record the event changes is locked in the same `TransactWriteItems` as the
 * in-progress record and let go in the same one as its completion (or deletion): an applied event
 * costs two DynamoDB calls, a duplicate one (the refused condition returns the stored record).
 *
 * @example
 * ```ts
 * handler
 *   .use(webhook({ scheme: "stripe", secrets: loader, logger }))
 *   .use(webhookIdempotency({ tableName: stateTableName(env), functionName: "payments-webhook", scheme: "stripe", logger }));
 * ```
 */
export function webhookIdempotency(options: WebhookIdempotencyOptions): MiddlewareObj {
  const persistenceStore = new LockingPersistenceLayer({
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
    const context = request.context as unknown as HandlerContext;
    const key = options.lockKey?.(verified);
    const ride: Ride | undefined =
      key !== undefined && context.lock instanceof KeyedLock ? { key, lock: context.lock } : undefined;
    internal[rideKey] = ride;
    let stored: unknown;
    try {
      stored = await rides.run(ride, () => idempotent.before(request));
    } finally {
      request.event = event;
    }
    // A stored response is a replay; no response means this request holds the in-progress record.
    if (stored === undefined) internal[ownsRecord] = true;
    else (request.internal as Record<string, unknown>)[replayedMark] = true;
    if (ride?.lease) context.lock = rideAlong(ride as Ride & { lease: LockLease }, ride.lock);
    return stored;
  };
  const webhookIdempotencyMiddlewareAfter = (request: Request) =>
    rides.run((request.internal as Record<string, Ride | undefined>)[rideKey], () => idempotent.after(request));
  const webhookIdempotencyMiddlewareOnError = async (request: Request) => {
    if ((request.internal as Record<string, unknown>)[ownsRecord] !== true) return;
    try {
      await rides.run((request.internal as Record<string, Ride | undefined>)[rideKey], () =>
        idempotent.onError(request),
      );
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
    after: webhookIdempotencyMiddlewareAfter,
    onError: webhookIdempotencyMiddlewareOnError,
  };
}

/** `request.internal` key: this request acquired the event's in-progress record. */
const ownsRecord = "webhookIdempotency.ownsRecord";

/**
 * The mark in middy's `request.internal` of a delivery answered from its idempotency record (a
 * replay), for the metrics read when the invocation ends.
 *
 * @example
 * ```ts
 * const outcome: InvocationOutcome = (request, telemetry) => {
 *   if (request.internal[replayedMark] === true) telemetry.count("MyReplays");
 * };
 * ```
 */
export const replayedMark = "webhookIdempotency.replayed";
/** `request.internal` key: the lock this request takes with its record. */
const rideKey = "webhookIdempotency.ride";

/** A lock taken with an event's idempotency record: its key, and its lease once taken. */
interface Ride {
  key: string;
  lock: KeyedLock;
  lease?: LockLease;
}

/** The request's {@link Ride} while Powertools writes its record (one persistence layer serves concurrent requests). */
const rides = new AsyncLocalStorage<Ride | undefined>();

/** `context.lock` for a handler whose record's lock is held: that key runs under the lease, others as usual. */
function rideAlong(ride: Ride & { lease: LockLease }, others: RecordLock): RecordLock {
  return { run: (key, fn) => (key === ride.key ? ride.lease.run(fn) : others.run(key, fn)) };
}

/**
 * Powertools' DynamoDB persistence layer, the record unchanged, that takes the request's lock
 * (its {@link Ride}) in the same `TransactWriteItems` as the in-progress record, and lets it go
 * in the same one as the record's completion or deletion. Without a ride, Powertools' own writes.
 * The conditions are Powertools' (2.35): a record is taken when absent, expired, or in progress
 * past its invocation's deadline.
 */
class LockingPersistenceLayer extends DynamoDBPersistenceLayer {
  readonly #tableName: string;

  constructor(config: { tableName: string; awsSdkV3Client: DynamoDBClient }) {
    super(config);
    this.#tableName = config.tableName;
  }

  protected override async _putRecord(record: IdempotencyRecord): Promise<void> {
    const ride = rides.getStore();
    if (!ride) return super._putRecord(record);
    const now = Date.now();
    const item: Record<string, unknown> = {
      id: record.idempotencyKey,
      [attr.expiryAttr]: record.expiryTimestamp,
      [attr.statusAttr]: record.getStatus(),
    };
    if (record.inProgressExpiryTimestamp !== undefined)
      item[attr.inProgressExpiryAttr] = record.inProgressExpiryTimestamp;
    if (this.isPayloadValidationEnabled() && record.payloadHash !== undefined)
      item[attr.validationKeyAttr] = record.payloadHash;
    try {
      ride.lease = await ride.lock.take(ride.key, {
        Put: {
          TableName: this.#tableName,
          Item: item,
          ConditionExpression:
            "attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)",
          ExpressionAttributeNames: {
            "#id": "id",
            "#expiry": attr.expiryAttr,
            "#in_progress_expiry": attr.inProgressExpiryAttr,
            "#status": attr.statusAttr,
          },
          ExpressionAttributeValues: {
            ":now": now / 1000,
            ":now_in_millis": now,
            ":inprogress": IdempotencyRecordStatus.INPROGRESS,
          },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        },
      });
    } catch (err) {
      // The record's condition refused it: a duplicate, answered from the record it saw.
      const [reason] = (err as TransactionCanceledException).CancellationReasons ?? [];
      if (reason?.Code !== "ConditionalCheckFailed") throw err;
      const existing = reason.Item && unmarshall(reason.Item);
      throw new IdempotencyItemAlreadyExistsError(
        `Failed to put record for already existing idempotency key: ${record.idempotencyKey}`,
        existing &&
          new IdempotencyRecord({
            idempotencyKey: existing.id,
            status: existing[attr.statusAttr],
            expiryTimestamp: existing[attr.expiryAttr],
            inProgressExpiryTimestamp: existing[attr.inProgressExpiryAttr],
            responseData: existing[attr.dataAttr],
            payloadHash: existing[attr.validationKeyAttr],
          }),
      );
    }
  }

  protected override async _updateRecord(record: IdempotencyRecord): Promise<void> {
    const lease = rides.getStore()?.lease;
    if (!lease) return super._updateRecord(record);
    const names: Record<string, string> = { "#expiry": attr.expiryAttr, "#status": attr.statusAttr };
    const values: Record<string, unknown> = { ":expiry": record.expiryTimestamp, ":status": record.getStatus() };
    const sets = ["#expiry = :expiry", "#status = :status"];
    if (record.responseData !== undefined) {
      sets.push("#response_data = :response_data");
      names["#response_data"] = attr.dataAttr;
      values[":response_data"] = record.responseData;
    }
    if (this.isPayloadValidationEnabled()) {
      sets.push("#validation_key = :validation_key");
      names["#validation_key"] = attr.validationKeyAttr;
      values[":validation_key"] = record.payloadHash;
    }
    await lease.end({
      Update: {
        TableName: this.#tableName,
        Key: { id: record.idempotencyKey },
        UpdateExpression: `SET ${sets.join(", ")}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    });
  }

  protected override async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    const lease = rides.getStore()?.lease;
    if (!lease) return super._deleteRecord(record);
    await lease.end({ Delete: { TableName: this.#tableName, Key: { id: record.idempotencyKey } } });
  }
}
