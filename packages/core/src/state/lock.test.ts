import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ensureStateTable, type LocalDynamoDB, startLocalDynamoDB } from "@flxbl-lambda/aws-local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RetryLaterError } from "../middleware/errors.js";
import { classifyError } from "../middleware/http-errors.js";
import { StateUnavailableError } from "./errors.js";
import { KeyedLock, type KeyedLockOptions, LockLostError, lockItemId } from "./lock.js";

const tableName = "lock-test-state";

/** A promise the test settles when it chooses: a holder that keeps the lock until then. */
function gate() {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe("KeyedLock against dynalite", () => {
  let dynamodb: LocalDynamoDB;
  let client: DynamoDBDocumentClient;

  beforeAll(async () => {
    dynamodb = await startLocalDynamoDB();
    const ddb = new DynamoDBClient({
      endpoint: dynamodb.url,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    await ensureStateTable(ddb, tableName);
    client = DynamoDBDocumentClient.from(ddb);
  });
  afterAll(async () => {
    await dynamodb?.close();
  });

  /** Each invocation builds its own lock, as separate Lambda containers would. */
  const lock = (options: Partial<KeyedLockOptions> = {}) => new KeyedLock({ tableName, client, ...options });
  const newKey = () => `order#${randomUUID()}`;

  it("lets one holder at a time run on a key", async () => {
    const key = newKey();
    let holders = 0;
    let most = 0;
    const spans: Array<[number, number]> = [];

    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        lock({ waitMs: 10_000 }).run(key, async () => {
          most = Math.max(most, ++holders);
          const from = performance.now();
          await sleep(20);
          spans.push([from, performance.now()]);
          holders--;
          return i;
        }),
      ),
    );

    expect(results).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(1);
    const ordered = spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ordered.length; i++) {
      expect(ordered[i]?.[0]).toBeGreaterThanOrEqual(ordered[i - 1]?.[1] ?? Number.POSITIVE_INFINITY);
    }
  });

  it("lets holders of different keys run at the same time", async () => {
    const [first, second] = [newKey(), newKey()];
    let holders = 0;
    let most = 0;
    const hold = async () => {
      most = Math.max(most, ++holders);
      await sleep(150);
      holders--;
    };

    await Promise.all([lock().run(first, hold), lock().run(second, hold)]);

    expect(most).toBe(2);
  });

  it("throws RetryLaterError when the key stays busy past waitMs", async () => {
    const key = newKey();
    const release = gate();
    const held = gate();
    const holder = lock().run(key, async () => {
      held.open();
      await release.opened;
    });
    await held.opened;
    const started = Date.now();

    const waiting = lock({ waitMs: 150 }).run(key, async () => "ran");
    const error = await waiting.catch((err: unknown) => err);
    const waited = Date.now() - started;
    release.open();
    await holder;

    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).retryAfterSeconds).toBeGreaterThan(0);
    expect(waited).toBeGreaterThanOrEqual(150);
  });

  /** What a holder that crashed leaves behind: its lock item, with a lease nobody renews. */
  /** A holder that crashed with the key: its lease runs out in `leaseMs`; answers when (epoch ms). */
  const crashedHolder = async (key: string, leaseMs: number) => {
    const leaseUntil = Date.now() + leaseMs;
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: { id: lockItemId(key), owner: "crashed", leaseUntil, expiration: 0 },
      }),
    );
    return leaseUntil;
  };

  /**
   * A holder frozen mid-work (a paused container): its renewals never reach DynamoDB. Only the
   * lease renewal is held back; taking and releasing the lock go through.
   */
  const frozenRenewals = (): DynamoDBDocumentClient =>
    ({
      send: (command: unknown) =>
        command instanceof UpdateCommand && String(command.input.UpdateExpression).startsWith("SET leaseUntil = :lease")
          ? Promise.reject(Object.assign(new Error("socket hang up"), { name: "TimeoutError" }))
          : client.send(command as PutCommand),
    }) as unknown as DynamoDBDocumentClient;

  it("takes over a crashed holder's lock once its lease has run out", async () => {
    const key = newKey();
    await crashedHolder(key, 300);
    const started = Date.now();

    const tookOverAt = await lock({ waitMs: 5_000 }).run(key, async () => Date.now());

    expect(tookOverAt - started).toBeGreaterThanOrEqual(250);
    expect(tookOverAt - started).toBeLessThan(2_000);
  });

  it("renews the lease while the holder works, so a slow holder keeps the key past its lease", async () => {
    const key = newKey();
    const held = gate();
    const done = gate();
    const slow = lock({ leaseMs: 300 }).run(key, async (hold) => {
      held.open();
      await done.opened;
      return hold.signal.aborted;
    });
    await held.opened;

    // Three leases later the holder still works: a contender waiting 900 ms gets "retry later".
    const contender = await lock({ waitMs: 900 })
      .run(key, async () => "ran")
      .catch((err: unknown) => err);
    done.open();

    expect(contender).toBeInstanceOf(RetryLaterError);
    expect(await slow).toBe(false);
  });

  it("aborts the hold's signal before the lease lapses when it cannot be renewed", async () => {
    const key = newKey();
    let abortedAt = 0;
    let leaseEnd = 0;
    let assertion: unknown;

    await lock({ leaseMs: 400, client: frozenRenewals() }).run(key, async (hold) => {
      leaseEnd = hold.deadline + 100; // the margin is a quarter of the lease
      await new Promise<void>((resolve) => hold.signal.addEventListener("abort", () => resolve(), { once: true }));
      abortedAt = Date.now();
      assertion = (() => {
        try {
          hold.assertHeld();
        } catch (err) {
          return err;
        }
      })();
    });

    expect(abortedAt).toBeLessThanOrEqual(leaseEnd);
    expect(assertion).toBeInstanceOf(LockLostError);
  });

  it("leaves the new holder's lock in place when a frozen holder comes back and finishes", async () => {
    const key = newKey();
    const resume = gate();
    const held = gate();
    const frozen = lock({ leaseMs: 200, client: frozenRenewals() }).run(key, async () => {
      held.open();
      await resume.opened;
    });
    await held.opened;
    const successorHolds = gate();
    const successorDone = gate();
    const successor = lock({ waitMs: 5_000 }).run(key, async () => {
      successorHolds.open();
      await successorDone.opened;
    });
    await successorHolds.opened;

    resume.open();
    await frozen;
    const third = await lock({ waitMs: 100 })
      .run(key, async () => "ran")
      .catch((err: unknown) => err);
    successorDone.open();
    await successor;

    expect(third).toBeInstanceOf(RetryLaterError);
  });

  it("keeps the key until its lease lapses after a write whose outcome is unknown", async () => {
    const key = newKey();
    const unknown = Object.assign(new Error("no answer in time"), { outcomeUnknown: true });
    await lock({ leaseMs: 400 })
      .run(key, async () => {
        throw unknown;
      })
      .catch(() => undefined);
    const started = Date.now();

    await lock({ waitMs: 5_000 }).run(key, async () => undefined);

    // The write that may still land at FLXBL had the rest of the lease to do so.
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it("releases the key at once after an error that left nothing in flight", async () => {
    const key = newKey();
    await lock({ leaseMs: 5_000 })
      .run(key, async () => {
        throw new TypeError("a bug before any write");
      })
      .catch(() => undefined);
    const started = Date.now();

    await lock({ waitMs: 1_000 }).run(key, async () => undefined);

    expect(Date.now() - started).toBeLessThan(500);
  });

  it("refuses a key outside the declared lock namespaces, naming the fix", async () => {
    await expect(lock({ namespaces: ["order"] }).run("product#1", async () => "ran")).rejects.toThrow(
      /outside this function's declared lock namespaces \(order\).*locks/,
    );
    await expect(lock({ namespaces: ["order"] }).run(newKey(), async () => "ran")).resolves.toBe("ran");
  });

  it("answers an unreachable DynamoDB with StateUnavailableError (503), not a bare SDK error", async () => {
    const closed = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: "http://127.0.0.1:9",
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
        maxAttempts: 1,
      }),
    );

    const error = await lock({ client: closed })
      .run(newKey(), async () => "ran")
      .catch((err: unknown) => err);

    expect(error).toBeInstanceOf(StateUnavailableError);
    expect(classifyError(error)).toEqual({ kind: "retry", retryAfterSeconds: 5 });
  });

  it("tells the holder that takes over a lapsed lease when its crashed holder had the key until", async () => {
    const key = newKey();
    // The lease the item says (not a clock read beside it, which may fall a millisecond apart).
    const crashedUntil = await crashedHolder(key, 300);

    const hold = await lock({ waitMs: 5_000 }).run(key, async (h) => h);

    expect(hold.lastReleasedAt).toBe(crashedUntil);
  });

  it("keeps the key until its lease lapses after a write that was sent without an answer, even when the holder went on", async () => {
    const key = newKey();
    await lock({ leaseMs: 400 }).run(key, async (hold) => {
      // What the FLXBL client does when an attempt of a write timed out (its retry then succeeded).
      hold.callOptions.onUnknownOutcome?.();
      return "done";
    });
    const started = Date.now();

    await lock({ waitMs: 5_000 }).run(key, async () => undefined);

    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it("never aborts a finished holder's signal, even when a renewal answers after it finished", async () => {
    const key = newKey();
    // Renewals take 200 ms: one is still on its way when the holder returns.
    const slowRenewals = {
      send: async (command: unknown) => {
        if (
          command instanceof UpdateCommand &&
          String(command.input.UpdateExpression).startsWith("SET leaseUntil = :lease")
        )
          await sleep(200);
        return client.send(command as PutCommand);
      },
    } as unknown as DynamoDBDocumentClient;

    const signal = await lock({ leaseMs: 300, client: slowRenewals }).run(key, async (hold) => {
      await sleep(150);
      return hold.signal;
    });
    await sleep(700);

    expect(signal.aborted).toBe(false);
  });

  it("tells the next holder when the key was last released", async () => {
    const key = newKey();
    const before = Date.now();
    await lock().run(key, async () => undefined);
    const after = Date.now();

    const info = await lock().run(key, async (i) => i);

    expect(info.lastReleasedAt).toBeGreaterThanOrEqual(before);
    expect(info.lastReleasedAt).toBeLessThanOrEqual(after);
  });

  it("reports no lastReleasedAt for a key never locked", async () => {
    const info = await lock().run(newKey(), async (i) => i);

    expect(info.lastReleasedAt).toBeUndefined();
  });
  describe("take: the lock and another write in one transaction", () => {
    const get = async (id: string) => (await client.send(new GetCommand({ TableName: tableName, Key: { id } }))).Item;
    /** The other write: an item created if absent, asking for the item its condition saw. */
    const claim = (id: string) => ({
      Put: {
        TableName: tableName,
        Item: { id, state: "claimed" },
        ConditionExpression: "attribute_not_exists(id)",
        ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
      },
    });
    const complete = (id: string) => ({
      Update: {
        TableName: tableName,
        Key: { id },
        UpdateExpression: "SET #s = :done",
        ExpressionAttributeNames: { "#s": "state" },
        ExpressionAttributeValues: { ":done": "done" },
      },
    });

    it("takes the key with the write in one call, runs under it, and lets it go with another write in one call", async () => {
      const key = newKey();
      const other = `item#${randomUUID()}`;
      dynamodb.resetCalls();

      const lease = await lock().take(key, claim(other));
      const held = await get(lockItemId(key));
      const ran = await lease.run(async (hold) => hold.signal.aborted);
      await lease.end(complete(other));

      expect(dynamodb.calls).toEqual({ GetItem: 1, TransactWriteItems: 2 });
      expect(held?.owner).toEqual(expect.any(String));
      expect(ran).toBe(false);
      expect(await get(other)).toEqual({ id: other, state: "done" });
      const released = await get(lockItemId(key));
      expect(released?.owner).toBeUndefined();
      expect(released?.releasedAt).toEqual(expect.any(Number));
    });

    it("throws the cancellation with the item the write's condition saw, at once even when the key is busy, and writes nothing", async () => {
      const key = newKey();
      const other = `item#${randomUUID()}`;
      await client.send(new PutCommand({ TableName: tableName, Item: { id: other, state: "earlier" } }));
      const holding = gate();
      const holder = lock().run(key, () => holding.opened);
      await sleep(50);
      const started = Date.now();

      const err = await lock({ waitMs: 2_000 })
        .take(key, claim(other))
        .catch((e: unknown) => e);
      const took = Date.now() - started;
      holding.open();
      await holder;

      expect(err).toBeInstanceOf(TransactionCanceledException);
      const [reason] = (err as TransactionCanceledException).CancellationReasons ?? [];
      expect(reason?.Code).toBe("ConditionalCheckFailed");
      expect(reason?.Item).toEqual({ id: { S: other }, state: { S: "earlier" } });
      expect(took).toBeLessThan(1_000);
      expect(await get(other)).toEqual({ id: other, state: "earlier" });
    });

    it("waits for a busy key, then answers RetryLaterError, writing nothing", async () => {
      const key = newKey();
      const other = `item#${randomUUID()}`;
      const holding = gate();
      const holder = lock().run(key, () => holding.opened);
      await sleep(50);

      const err = await lock({ waitMs: 150 })
        .take(key, claim(other))
        .catch((e: unknown) => e);
      holding.open();
      await holder;

      expect(err).toBeInstanceOf(RetryLaterError);
      expect(await get(other)).toBeUndefined();
    });

    it("makes the write alone and keeps the key until its lease lapses after a write whose outcome is unknown", async () => {
      const key = newKey();
      const other = `item#${randomUUID()}`;
      const lease = await lock({ leaseMs: 400 }).take(key, claim(other));
      await lease
        .run(async () => {
          throw Object.assign(new Error("no answer in time"), { outcomeUnknown: true });
        })
        .catch(() => undefined);
      await lease.end(complete(other));
      const started = Date.now();

      await lock({ waitMs: 5_000 }).run(key, async () => undefined);

      expect(await get(other)).toEqual({ id: other, state: "done" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    });
  });
});
