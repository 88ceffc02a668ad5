import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { RetryLaterError } from "../middleware/errors.js";

/** How to build a {@link KeyedLock}. */
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

/**
 * A lease lock per key on DynamoDB (a conditional put, a conditional delete), to serialise
 * read-modify-write sequences on one FLXBL record. FLXBL's API has no compare-and-set, so two
 * webhooks touching the same order at once would otherwise race and the older could win.
 *
 * @example
 * ```ts
 * const lock = new KeyedLock({ tableName: env.STATE_TABLE_NAME });
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
   */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const id = `lock#${key}`;
    const owner = randomUUID();
    const giveUpAt = this.#now() + this.#waitMs;
    for (let attempt = 0; ; attempt++) {
      if (await this.#acquire(id, owner)) break;
      if (this.#now() >= giveUpAt) throw new RetryLaterError(`${key} is being changed by another invocation`, 1);
      await sleep(Math.min(200, 10 * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
    try {
      return await fn();
    } finally {
      await this.#release(id, owner);
    }
  }

  async #acquire(id: string, owner: string): Promise<boolean> {
    const now = this.#now();
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            id,
            owner,
            leaseUntil: now + this.#leaseMs,
            expiration: Math.ceil((now + this.#leaseMs) / 1000) + 60,
          },
          ConditionExpression: "attribute_not_exists(id) OR leaseUntil < :now",
          ExpressionAttributeValues: { ":now": now },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException || (err as Error).name === "ConditionalCheckFailedException")
        return false;
      throw err;
    }
  }

  async #release(id: string, owner: string): Promise<void> {
    try {
      await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { id },
          ConditionExpression: "#owner = :owner",
          ExpressionAttributeNames: { "#owner": "owner" },
          ExpressionAttributeValues: { ":owner": owner },
        }),
      );
    } catch (err) {
      // Our lease ran out and someone else holds it now: theirs to release.
      if ((err as Error).name !== "ConditionalCheckFailedException") throw err;
    }
  }
}
