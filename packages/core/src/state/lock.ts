import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { RetryLaterError } from "../middleware/errors.js";

/**
 * How to build a {@link KeyedLock}.
 *
 * @example
 * ```ts
 * const options: KeyedLockOptions = { tableName: stateTableName(env), leaseMs: 30_000, waitMs: 5_000 };
 * const lock = new KeyedLock(options);
 * ```
 */
export interface KeyedLockOptions {
  /** The state table (partition key `id`, TTL attribute `expiration`). */
  tableName: string;
  /** @default a DynamoDB document client on a default `DynamoDBClient` (reads `AWS_ENDPOINT_URL_DYNAMODB`) */
  client?: DynamoDBDocumentClient;
  /** How long a holder owns the lock before another may take it over (a crashed holder). @default 10000 */
  leaseMs?: number;
  /** How long to wait for a busy lock before answering "retry later". @default 2000 */
  waitMs?: number;
  /** Clock in epoch ms. @default Date.now */
  now?: () => number;
}

const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException || (err as Error)?.name === "ConditionalCheckFailedException";

/**
 * A lease lock per key on DynamoDB (conditional writes), to serialise read-modify-write
 * sequences on one FLXBL record. FLXBL's API has no compare-and-set, so two invocations touching
 * the same order at once would otherwise race and the older write could land last.
 *
 * @example
 * ```ts
 * const lock = new KeyedLock({ tableName: stateTableName(env) });
 * await lock.run(`order#${orderId}`, async () => { ...read, decide, write... });
 * ```
 */
export class KeyedLock {
  readonly #table: string;
  readonly #client: DynamoDBDocumentClient;
  readonly #leaseMs: number;
  readonly #waitMs: number;
  readonly #now: () => number;

  constructor(options: KeyedLockOptions) {
    this.#table = options.tableName;
    this.#client = options.client ?? DynamoDBDocumentClient.from(new DynamoDBClient({}));
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#waitMs = options.waitMs ?? 2_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Runs `fn` holding the lock on `key`. Waits up to `waitMs` for a busy lock, then throws
   * {@link RetryLaterError} (answered 503 + `Retry-After`: the sender tries again, nothing lost).
   *
   * `fn` learns when the key was last released (`lastReleasedAt`, epoch ms): a caller that read
   * the record before taking the lock needs to re-read it only if someone held the lock since.
   */
  async run<T>(key: string, fn: (info: { lastReleasedAt: number | undefined }) => Promise<T>): Promise<T> {
    const id = `lock#${key}`;
    const owner = randomUUID();
    const giveUpAt = this.#now() + this.#waitMs;
    let acquired: { lastReleasedAt: number | undefined } | undefined;
    for (let attempt = 0; ; attempt++) {
      acquired = await this.#acquire(id, owner);
      if (acquired) break;
      if (this.#now() >= giveUpAt) throw new RetryLaterError(`${key} is being changed by another invocation`, 1);
      await sleep(Math.min(200, 10 * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
    try {
      return await fn(acquired);
    } finally {
      await this.#release(id, owner);
    }
  }

  async #acquire(id: string, owner: string): Promise<{ lastReleasedAt: number | undefined } | undefined> {
    const now = this.#now();
    try {
      const out = await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: { id, owner, leaseUntil: now + this.#leaseMs, expiration: this.#expiration(now) },
          ConditionExpression: "attribute_not_exists(id) OR leaseUntil < :now",
          ExpressionAttributeValues: { ":now": now },
          ReturnValues: "ALL_OLD",
        }),
      );
      const released = out.Attributes?.releasedAt;
      return { lastReleasedAt: typeof released === "number" ? released : undefined };
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  /** Lock items live a day after their last release, so `lastReleasedAt` outlives a page of work. */
  #expiration(now: number): number {
    return Math.ceil(now / 1000) + 24 * 3600;
  }

  async #release(id: string, owner: string): Promise<void> {
    const now = this.#now();
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { id },
          UpdateExpression: "SET leaseUntil = :zero, releasedAt = :now, expiration = :exp REMOVE #owner",
          ConditionExpression: "#owner = :owner",
          ExpressionAttributeNames: { "#owner": "owner" },
          ExpressionAttributeValues: { ":owner": owner, ":zero": 0, ":now": now, ":exp": this.#expiration(now) },
        }),
      );
    } catch (err) {
      // Our lease ran out and someone else holds it now: theirs to release.
      if (!isConditionFailure(err)) throw err;
    }
  }
}
