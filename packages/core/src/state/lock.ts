import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { sharedDynamoDbClient } from "../aws.js";
import type { CallOptions } from "../flxbl/types.js";
import { RetryLaterError } from "../middleware/errors.js";
import { StateUnavailableError, stateStoreError } from "./errors.js";

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

/** A single write refused because a transaction on its item is under way: the item is busy. */
const isTransactionConflict = (err: unknown) => (err as Error)?.name === "TransactionConflictException";

/** Why each write of a cancelled `TransactWriteItems` failed (`None`, `ConditionalCheckFailed`, ...), in order. */
const cancellationCodes = (err: unknown): string[] | undefined =>
  err instanceof TransactionCanceledException || (err as Error)?.name === "TransactionCanceledException"
    ? ((err as TransactionCanceledException).CancellationReasons ?? []).map((r) => r.Code ?? "None")
    : undefined;

/** Cancellation codes of a transaction DynamoDB refused for load: it may pass if tried again. */
const throttled = new Set(["ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"]);

/**
 * One write to the state table as an item of a `TransactWriteItems` (the document client's form):
 * what {@link KeyedLock.take} and {@link LockLease.end} make together with the lock's own write.
 *
 * @example
 * ```ts
 * const complete: StateWrite = {
 *   Update: {
 *     TableName: stateTableName(env),
 *     Key: { id: "idem#payments-webhook#abc" },
 *     UpdateExpression: "SET #s = :done",
 *     ExpressionAttributeNames: { "#s": "status" },
 *     ExpressionAttributeValues: { ":done": "COMPLETED" },
 *   },
 * };
 * ```
 */
export type StateWrite = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/**
 * What runs work under a per-record lock: a handler's `context.lock`. {@link KeyedLock} is one; in
 * a webhook that took its record's lock with its idempotency record, `run` on that key uses the
 * lock already held (no call to DynamoDB).
 *
 * @example
 * ```ts
 * async function markPaid(lock: RecordLock, orders: EntityClient<Order>, orderId: string) {
 *   return lock.run(`order#${orderId}`, (hold) => orders.update(orderId, { status: "paid" }, hold.callOptions));
 * }
 * ```
 */
export interface RecordLock {
  /**
   * Runs `fn` holding the lock on `key`; waits a while for a busy one, then throws
   * {@link RetryLaterError} (answered 503 + `Retry-After`).
   */
  run<T>(key: string, fn: (hold: LockHold) => Promise<T>): Promise<T>;
}

/**
 * A lock taken with {@link KeyedLock.take}: held, and renewed while held, until {@link end}.
 *
 * @example
 * ```ts
 * async function applyOnce(lock: KeyedLock, claim: StateWrite, complete: StateWrite, orderId: string) {
 *   const lease = await lock.take(`order#${orderId}`, claim);
 *   await lease.run((hold) => orders.update(orderId, { status: "paid" }, hold.callOptions));
 *   await lease.end(complete);
 * }
 * ```
 */
export interface LockLease {
  readonly key: string;
  /**
   * Runs `fn` holding the lease. An error that leaves a write's outcome unknown, or a lease that
   * may have lapsed, keeps the key until its lease lapses (as {@link KeyedLock.run} does).
   */
  run<T>(fn: (hold: LockHold) => Promise<T>): Promise<T>;
  /**
   * Stops renewing and lets the key go, in one `TransactWriteItems` with `write` when given (both
   * or neither). `write` is made alone, and the key kept until its lease lapses, when a write
   * under the lease may still land, the lease may have lapsed, or a {@link run} is still going
   * (its invocation answered without waiting for it); alone too when someone else holds the key
   * by now. Without `write`, a failed release is left to lapse.
   */
  end(write?: StateWrite): Promise<void>;
}

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
 * The lock can also be taken in one `TransactWriteItems` with another write ({@link take}) and let
 * go in one with another ({@link LockLease.end}): a webhook takes its record's lock with its
 * event's idempotency record, and lets it go with the record's completion.
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
export class KeyedLock implements RecordLock {
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
    const lease = await this.#wait(key, (id, owner) => this.#take(id, owner));
    try {
      return await lease.run(fn);
    } finally {
      await lease.end();
    }
  }

  /**
   * Takes the lock on `key` in one `TransactWriteItems` with `write` (both or neither), waiting for
   * a busy key as {@link run} does; the lease is held until its {@link LockLease.end}. When
   * `write`'s own condition refuses it, the transaction's `TransactionCanceledException` is thrown
   * at once, busy key or not: its first cancellation reason holds the item that condition saw
   * when `write` asks for it (`ReturnValuesOnConditionCheckFailure: ALL_OLD`). A transaction
   * returns no old item, so the hold's `lastReleasedAt` is the moment the lock was taken: anything
   * read before may be stale.
   */
  take(key: string, write: StateWrite): Promise<LockLease> {
    return this.#wait(key, async (id, owner) => {
      const now = this.#now();
      const put = this.#lockPut(id, owner, now);
      try {
        await this.#client.send(new TransactWriteCommand({ TransactItems: [write, { Put: put }] }));
        return { lastReleasedAt: now, leaseUntil: put.Item.leaseUntil };
      } catch (err) {
        const codes = cancellationCodes(err);
        if (codes?.[0] === "ConditionalCheckFailed") throw err;
        // Busy: held by someone, or another transaction on one of the items is under way.
        if (codes?.[1] === "ConditionalCheckFailed" || codes?.includes("TransactionConflict")) return undefined;
        if (codes?.some((c) => throttled.has(c))) throw new StateUnavailableError("taking a lock", { cause: err });
        throw stateStoreError("taking a lock", err);
      }
    });
  }

  /** Tries `attempt` until it takes the key, for up to `waitMs`; then the lease, renewed while held. */
  async #wait(
    key: string,
    attempt: (
      id: string,
      owner: string,
    ) => Promise<{ lastReleasedAt: number | undefined; leaseUntil: number } | undefined>,
  ): Promise<Lease> {
    if (this.#namespaces && !this.#namespaces.some((ns) => key.startsWith(`${ns}#`)))
      throw new Error(
        `Lock key "${key}" is outside this function's declared lock namespaces (${this.#namespaces.join(", ") || "none"}); add its namespace to the manifest entry's locks`,
      );
    const id = lockItemId(key);
    const owner = randomUUID();
    const giveUpAt = this.#now() + this.#waitMs;
    let taken: { lastReleasedAt: number | undefined; leaseUntil: number } | undefined;
    for (let n = 0; ; n++) {
      taken = await attempt(id, owner);
      if (taken) break;
      if (this.#now() >= giveUpAt) throw new RetryLaterError(`${key} is being changed by another invocation`, 1);
      await sleep(Math.min(200, 10 * 2 ** n) * (0.5 + Math.random() / 2));
    }
    const hold = new Hold(key, taken.lastReleasedAt, taken.leaseUntil, this.#marginMs, this.#now);
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
    return new Lease(key, hold, heartbeat, this.#client, () => this.#releaseWrite(id, owner));
  }

  /** The lock item, written if the key is free or its lease lapsed. */
  #lockPut(id: string, owner: string, now: number) {
    return {
      TableName: this.#table,
      Item: { id, owner, leaseUntil: now + this.#leaseMs, expiration: this.#expiration(now) },
      ConditionExpression: "attribute_not_exists(id) OR leaseUntil < :now",
      ExpressionAttributeValues: { ":now": now },
    };
  }

  async #take(
    id: string,
    owner: string,
  ): Promise<{ lastReleasedAt: number | undefined; leaseUntil: number } | undefined> {
    const put = this.#lockPut(id, owner, this.#now());
    try {
      const out = await this.#client.send(new PutCommand({ ...put, ReturnValues: "ALL_OLD" }));
      const previous = out.Attributes ?? {};
      const released = typeof previous.releasedAt === "number" ? previous.releasedAt : Number.NEGATIVE_INFINITY;
      // Taken over from a holder that never released (its lease lapsed): it had the key until then.
      const lapsed =
        previous.owner !== undefined && typeof previous.leaseUntil === "number"
          ? previous.leaseUntil
          : Number.NEGATIVE_INFINITY;
      const last = Math.max(released, lapsed);
      return { lastReleasedAt: Number.isFinite(last) ? last : undefined, leaseUntil: put.Item.leaseUntil };
    } catch (err) {
      // Busy: held by someone, or a transaction taking or letting go of it is under way.
      if (isConditionFailure(err) || isTransactionConflict(err)) return undefined;
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

  /** The release: the lock item marked free, if it is still ours. */
  #releaseWrite(id: string, owner: string): { Update: NonNullable<StateWrite["Update"]> } {
    const now = this.#now();
    return {
      Update: {
        TableName: this.#table,
        Key: { id },
        UpdateExpression: "SET leaseUntil = :zero, releasedAt = :now, expiration = :exp REMOVE #owner",
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": owner, ":zero": 0, ":now": now, ":exp": this.#expiration(now) },
      },
    };
  }
}

/** A held lock: its hold, its renewal, and how it is let go. */
class Lease implements LockLease {
  #running = 0;
  /** A run failed with a write's outcome unknown, or after the lease may have lapsed. */
  #keep = false;

  constructor(
    readonly key: string,
    private readonly hold: Hold,
    private readonly heartbeat: NodeJS.Timeout,
    private readonly client: DynamoDBDocumentClient,
    private readonly release: () => { Update: NonNullable<StateWrite["Update"]> },
  ) {}

  async run<T>(fn: (hold: LockHold) => Promise<T>): Promise<T> {
    this.#running++;
    try {
      return await fn(this.hold);
    } catch (err) {
      if (outcomeUnknown(err) || this.hold.signal.aborted) this.#keep = true;
      throw err;
    } finally {
      this.#running--;
    }
  }

  async end(write?: StateWrite): Promise<void> {
    clearInterval(this.heartbeat);
    // A run still going keeps its hold's timer, which aborts it before the lease lapses.
    if (this.#running === 0) this.hold.dispose();
    const keep = this.#keep || this.hold.mayStillLand || this.#running > 0;
    for (let attempt = 0; !keep && attempt < 3; attempt++) {
      try {
        if (write) await this.client.send(new TransactWriteCommand({ TransactItems: [write, this.release()] }));
        else await this.client.send(new UpdateCommand(this.release().Update));
        return;
      } catch (err) {
        const codes = cancellationCodes(err);
        // A transaction on the lock item (someone taking it) is under way: try again, briefly.
        if (isTransactionConflict(err) || codes?.includes("TransactionConflict")) {
          await sleep(10 * 2 ** attempt);
          continue;
        }
        // Alone, any failure leaves the lease to lapse on its own: the work itself is done.
        if (!write) return;
        if (!codes) throw stateStoreError("letting a lock go", err);
        // Our lease lapsed and someone else holds the key (theirs to let go), or DynamoDB refused
        // the transaction for load: the write alone, below.
        break;
      }
    }
    if (write) await writeAlone(this.client, write);
  }
}

/** One {@link StateWrite} as the single call it is. */
async function writeAlone(client: DynamoDBDocumentClient, write: StateWrite): Promise<void> {
  try {
    if (write.Put) await client.send(new PutCommand(write.Put));
    else if (write.Update) await client.send(new UpdateCommand(write.Update));
    else if (write.Delete) await client.send(new DeleteCommand(write.Delete));
  } catch (err) {
    throw stateStoreError("writing with a lock", err);
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
