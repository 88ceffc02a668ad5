import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ensureStateTable, type LocalDynamoDB, startLocalDynamoDB } from "@flxbl-lambda/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RetryLaterError } from "../middleware/errors.js";
import { KeyedLock, type KeyedLockOptions } from "./lock.js";

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

  it("takes over a crashed holder's lock once its lease has run out", async () => {
    const key = newKey();
    const crash = gate();
    const held = gate();
    // A holder that stops answering: its lease (300 ms) is all that keeps the lock.
    const crashed = lock({ leaseMs: 300 }).run(key, async () => {
      held.open();
      await crash.opened;
    });
    await held.opened;
    const started = Date.now();

    const tookOverAt = await lock({ waitMs: 5_000 }).run(key, async () => Date.now());
    crash.open();
    await crashed;

    expect(tookOverAt - started).toBeGreaterThanOrEqual(250);
    expect(tookOverAt - started).toBeLessThan(2_000);
  });

  it("leaves the new holder's lock in place when a crashed holder comes back and finishes", async () => {
    const key = newKey();
    const crash = gate();
    const held = gate();
    const crashed = lock({ leaseMs: 200 }).run(key, async () => {
      held.open();
      await crash.opened;
    });
    await held.opened;
    const successorHolds = gate();
    const successorDone = gate();
    const successor = lock({ waitMs: 5_000 }).run(key, async () => {
      successorHolds.open();
      await successorDone.opened;
    });
    await successorHolds.opened;

    crash.open();
    await crashed;
    const third = await lock({ waitMs: 100 })
      .run(key, async () => "ran")
      .catch((err: unknown) => err);
    successorDone.open();
    await successor;

    expect(third).toBeInstanceOf(RetryLaterError);
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
});
