import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { sharedDynamoDbClient } from "../aws.js";
import type { CallOptions } from "../flxbl/types.js";
import { RetryLaterError } from "../middleware/errors.js";
import { stateStoreError } from "./errors.js";

/**
 * How to build a {@link KeyedLock}.
 *
 * @example
 * ```ts
 * const options: KeyedLockOptions = { tableName: stateTableName(env), namespaces: spec.locks, waitMs: 5_000 };
 * const lock = new KeyedLock(options);
 * ```
 */
export interface KeyedLockOptions {
  /** The state table (partition key `id`, TTL attribute `expiration`). */
  tableName: string;
  /**
   * The lock namespaces this function declared in its manifest entry (`locks`): a key must start
   * with one of them and `#` (`order#<id>`). Its IAM policy covers exactly those items
   * (`lock#order#*`), so an undeclared one is refused here, in a test, before AWS refuses it.
   * @default undefined (any key)
   */
  namespaces?: readonly string[];
  /** @default a document client on the container's shared `DynamoDBClient` (reads `AWS_ENDPOINT_URL_DYNAMODB`) */
  client?: DynamoDBDocumentClient;
  /**
   * How long a holder owns the lock without renewing it. Holders renew it every third of this
   * while they work, so it lapses only when the holder died (or cannot reach DynamoDB).
   * @default 10000
   */
  leaseMs?: number;
  /**
   * How long before its lease ends a holder that could not renew gives up: its `signal` aborts
   * (FLXBL calls made with it stop) so nothing it sends outlives the lease. @default leaseMs / 4
   */
  marginMs?: number;
  /** How long to wait for a busy lock before answering "retry later". @default 2000 */
  waitMs?: number;
  /** Clock in epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * What a holder of a {@link KeyedLock} gets.
 *
 * @example
 * ```ts
 * await context.lock.run(`order#${orderId}`, async (hold: LockHold) => {
 *   const order = await orders.get(orderId, hold.callOptions);
 *   hold.assertHeld();
 *   await orders.update(orderId, { status: "expired" }, hold.callOptions);
 * });
 * ```
 */
export interface LockHold {
  /**
   * When another holder last had the key (epoch ms): its release, or the end of the lease of a
   * holder that never released it (it crashed, or kept it after an uncertain write). Undefined
   * when nobody has held it. A record read before this moment may be stale.
   */
  lastReleasedAt: number | undefined;
  /**
   * Aborts when the lease may be about to lapse (renewals failed or were refused). Pass it to
   * every call made under the lock, so nothing is sent, or kept waiting, past the lease.
   */
  signal: AbortSignal;
  /**
   * Options for every FLXBL call made under the lock: {@link signal}, and a flag that a write
   * was sent without an answer (it may land later), so the lock is kept until its lease lapses
   * instead of being released.
   */
  readonly callOptions: CallOptions;
  /** End of the lease as last renewed, minus the margin (epoch ms): the holder's own deadline. */
  readonly deadline: number;
  /** Throws {@link LockLostError} unless the lease still runs past the margin: call it before a write. */
  assertHeld(): void;
}

/**
 * The lease of a lock ran out (or was taken over) while its holder worked: whatever the holder
 * had not done yet must not be done. A {@link RetryLaterError}: a webhook answers 503, a job
 * tries the record again later.
 *
 * @example
 * ```ts
 * await context.lock.run(`order#${orderId}`, async (hold) => {
 *   hold.assertHeld(); // throws LockLostError when the lease may have lapsed
 * });
 * ```
 */
export class LockLostError extends RetryLaterError {
  override name = "LockLostError";
}

const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException || (err as Error)?.name === "ConditionalCheckFailedException";

/** Whether an error leaves it unknown if a write made under the lock reached FLXBL. */
const outcomeUnknown = (err: unknown) => (err as { outcomeUnknown?: unknown })?.outcomeUnknown === true;

/**
 * The state table's item id of a lock key.
 *
 * @example
 * ```ts
 * lockItemId("order#node_1"); // "lock#order#node_1"
 * ```
 */
export function lockItemId(key: string): string {
  return `lock#${key}`;
}

/**
 * A lease lock per key on DynamoDB (conditional writes), to serialise read-modify-write
 * sequences on one FLXBL record. FLXBL's API has no compare-and-set, so two invocations touching
 * the same order at once would otherwise race and the older write could land last.
 *
 * The holder renews its lease while it works, so a slow FLXBL call cannot outlast the lock;
 * when renewing fails, the hold's `signal` aborts before the lease ends. After a write whose
 * outcome is unknown (an attempt that timed out, even if a retry then succeeded), the lock is not
 * released early: it lapses a lease later, giving a request still in flight at FLXBL time to land
 * before anyone else reads the record.
 *
 * @example
 * ```ts
 * const lock = new KeyedLock({ tableName: stateTableName(env), namespaces: ["order"] });
 * await lock.run(`order#${orderId}`, async (hold) => {
 *   const order = await orders.get(orderId, hold.callOptions);
 *   await orders.update(orderId, { status: "paid" }, hold.callOptions);
 * });
 * ```
 */
export class KeyedLock {
  readonly #table: string;
  readonly #namespaces: readonly string[] | undefined;
  readonly #client: DynamoDBDocumentClient;
  readonly #leaseMs: number;
  readonly #marginMs: number;
  readonly #waitMs: number;
  readonly #now: () => number;

  constructor(options: KeyedLockOptions) {
    this.#table = options.tableName;
    this.#namespaces = options.namespaces;
    this.#client = options.client ?? DynamoDBDocumentClient.from(sharedDynamoDbClient());
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#marginMs = options.marginMs ?? Math.round(this.#leaseMs / 4);
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
  async run<T>(key: string, fn: (hold: LockHold) => Promise<T>): Promise<T> {
    if (this.#namespaces && !this.#namespaces.some((ns) => key.startsWith(`${ns}#`)))
      throw new Error(
        `Lock key "${key}" is outside this function's declared lock namespaces (${this.#namespaces.join(", ") || "none"}); add its namespace to the manifest entry's locks`,
      );
    const id = lockItemId(key);
    const owner = randomUUID();
    const giveUpAt = this.#now() + this.#waitMs;
    let acquired: { lastReleasedAt: number | undefined; leaseUntil: number } | undefined;
    for (let attempt = 0; ; attempt++) {
      acquired = await this.#acquire(id, owner);
      if (acquired) break;
      if (this.#now() >= giveUpAt) throw new RetryLaterError(`${key} is being changed by another invocation`, 1);
      await sleep(Math.min(200, 10 * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
    const hold = new Hold(key, acquired.lastReleasedAt, acquired.leaseUntil, this.#marginMs, this.#now);
    const heartbeat = setInterval(
      () => {
        void this.#renew(id, owner).then(
          (leaseUntil) => (leaseUntil === undefined ? hold.lose() : hold.extend(leaseUntil)),
          // DynamoDB unreachable: keep the old lease; the hold's timer aborts before it ends.
          () => undefined,
        );
      },
      Math.max(50, Math.floor(this.#leaseMs / 3)),
    );
    heartbeat.unref();
    let keep = false;
    try {
      return await fn(hold);
    } catch (err) {
      keep = outcomeUnknown(err) || hold.signal.aborted;
      throw err;
    } finally {
      clearInterval(heartbeat);
      hold.dispose();
      // A write that may still land keeps the key until the lease lapses on its own.
      if (!keep && !hold.mayStillLand) await this.#release(id, owner);
    }
  }

  async #acquire(
    id: string,
    owner: string,
  ): Promise<{ lastReleasedAt: number | undefined; leaseUntil: number } | undefined> {
    const now = this.#now();
    const leaseUntil = now + this.#leaseMs;
    try {
      const out = await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: { id, owner, leaseUntil, expiration: this.#expiration(now) },
          ConditionExpression: "attribute_not_exists(id) OR leaseUntil < :now",
          ExpressionAttributeValues: { ":now": now },
          ReturnValues: "ALL_OLD",
        }),
      );
      const previous = out.Attributes ?? {};
      const released = typeof previous.releasedAt === "number" ? previous.releasedAt : Number.NEGATIVE_INFINITY;
      // Taken over from a holder that never released (its lease lapsed): it had the key until then.
      const lapsed =
        previous.owner !== undefined && typeof previous.leaseUntil === "number"
          ? previous.leaseUntil
          : Number.NEGATIVE_INFINITY;
      const last = Math.max(released, lapsed);
      return { lastReleasedAt: Number.isFinite(last) ? last : undefined, leaseUntil };
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw stateStoreError("taking a lock", err);
    }
  }

  /** Extends the lease; the new end, or undefined when someone else owns the key now. */
  async #renew(id: string, owner: string): Promise<number | undefined> {
    const now = this.#now();
    const leaseUntil = now + this.#leaseMs;
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { id },
          UpdateExpression: "SET leaseUntil = :lease",
          ConditionExpression: "#owner = :owner",
          ExpressionAttributeNames: { "#owner": "owner" },
          ExpressionAttributeValues: { ":owner": owner, ":lease": leaseUntil },
        }),
      );
      return leaseUntil;
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
      // Our lease ran out and someone else holds it now: theirs to release. Any other failure
      // leaves our lease to lapse on its own; the work itself is done.
      if (!isConditionFailure(err)) return;
    }
  }
}

/** One holder's view of its lease: extended by renewals, aborted before it can lapse. */
class Hold implements LockHold {
  readonly #controller = new AbortController();
  readonly signal = this.#controller.signal;
  /** Set when a write under the lock was sent and left without an answer. */
  mayStillLand = false;
  readonly callOptions: CallOptions = {
    signal: this.signal,
    onUnknownOutcome: () => {
      this.mayStillLand = true;
    },
  };
  #leaseUntil: number;
  #timer: NodeJS.Timeout | undefined;
  #disposed = false;

  constructor(
    readonly key: string,
    readonly lastReleasedAt: number | undefined,
    leaseUntil: number,
    private readonly marginMs: number,
    private readonly now: () => number,
  ) {
    this.#leaseUntil = leaseUntil;
    this.#arm();
  }

  get deadline(): number {
    return this.#leaseUntil - this.marginMs;
  }

  assertHeld(): void {
    if (this.signal.aborted || this.now() >= this.deadline)
      throw new LockLostError(`the lock on ${this.key} may have lapsed; the change was not made`, 1);
  }

  extend(leaseUntil: number): void {
    // A renewal that answers after the holder finished changes nothing.
    if (this.#disposed || this.signal.aborted) return;
    this.#leaseUntil = Math.max(this.#leaseUntil, leaseUntil);
    this.#arm();
  }

  lose(): void {
    if (!this.#disposed) this.#abort(`the lock on ${this.key} was taken over`);
  }

  dispose(): void {
    this.#disposed = true;
    clearTimeout(this.#timer);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#abort(`the lock on ${this.key} could not be renewed`),
      Math.max(0, this.deadline - this.now()),
    );
    // A lease timer never keeps a process alive on its own.
    this.#timer.unref();
  }

  #abort(reason: string): void {
    clearTimeout(this.#timer);
    if (!this.signal.aborted) this.#controller.abort(new LockLostError(reason, 1));
  }
}
