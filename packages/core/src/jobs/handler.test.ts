import { setTimeout as sleep } from "node:timers/promises";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  ensureStateTable,
  type LocalDynamoDB,
  type LocalSecretsManager,
  startLocalDynamoDB,
  startLocalSecretsManager,
} from "@flxbl-lambda/aws-local";
import type { Emulator } from "@flxbl-lambda/emulator";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
// The emulator is the FLXBL stand-in these tests run against; core does not ship with it.
import { as, keyWith, order, startAppEmulator } from "../../../emulator/src/test-helpers.js";
import { resetPacers } from "../flxbl/pacer.js";
import type { FlxblRecord } from "../flxbl/types.js";
import { SecretLoader } from "../keys/secret-loader.js";
import { lambdaContext, scheduledEvent } from "../testing/lambda-events.js";
import { type JobHandlerOptions, jobHandler, stopMarginFor } from "./handler.js";
import { JobFailedError } from "./runner.js";
import type { SweptOrder } from "./test-fixtures/sweep.js";

const spec = {
  name: "expire-test",
  scopes: ["entity:Order:read", "entity:Order:update"],
  locks: ["order"],
} as const;

describe("jobHandler, with a dummy job against the emulator, dynalite and a local Secrets Manager", () => {
  let flxbl: Emulator;
  let sm: LocalSecretsManager;
  let ddb: LocalDynamoDB;
  let dynamodb: DynamoDBClient;
  let secretsClient: SecretsManagerClient;
  let secretId: string;
  let n = 0;
  const tableName = "job-handler-test";

  /** Orders of their own batch (`currency` tags it), so tests do not see each other's. */
  async function seedOrders(count: number, status = "pending") {
    const batch = `t${++n}`;
    const admin = as(flxbl, flxbl.adminKey);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await admin.post<{ id: string }>(
        "/dynamic/Order",
        order({ number: `${batch}-${i}`, status, currency: batch }),
      );
      ids.push(res.body.id);
    }
    return { batch, ids };
  }

  async function statusOf(id: string) {
    return (await as(flxbl, flxbl.adminKey).get<SweptOrder>(`/dynamic/Order/${id}`)).body.status;
  }

  /** A job as a function file writes it (`spec`, `env`, the sweep), with the local endpoints. */
  function makeJob<P = undefined>(
    batch: string,
    sweep: Pick<
      JobHandlerOptions<SweptOrder, P>,
      "process" | "prepare" | "onSweepComplete" | "pageSize" | "concurrency" | "stopMarginMs" | "timeoutEarlyInMillis"
    >,
    entry: { rateLimit?: { rps: number } } = {},
  ) {
    return jobHandler<SweptOrder, P>({
      spec: { ...spec, ...entry, name: `${spec.name}-${batch}` },
      env: { FLXBL_URL: flxbl.url, FLXBL_SECRET_ARN: secretId, STATE_TABLE_NAME: tableName },
      secrets: new SecretLoader({ secretId, client: secretsClient }),
      dynamodb,
      client: { retry: { attempts: 3, baseDelayMs: 5 } },
      entity: "Order",
      params: () => ({ batch }),
      where: ({ batch: tag }) => ({ currency: tag, status: "pending" }),
      ...sweep,
    });
  }

  const invoke = (job: ReturnType<typeof makeJob>, timeoutSeconds = 30) =>
    job(scheduledEvent("expire-test"), lambdaContext({ functionName: spec.name, timeoutSeconds }));

  beforeAll(async () => {
    [flxbl, sm, ddb] = await Promise.all([startAppEmulator(), startLocalSecretsManager(), startLocalDynamoDB()]);
    const local = { region: "us-east-1", credentials: { accessKeyId: "l", secretAccessKey: "l" } };
    dynamodb = new DynamoDBClient({ endpoint: ddb.url, ...local });
    secretsClient = new SecretsManagerClient({ endpoint: sm.url, ...local });
    await ensureStateTable(dynamodb, tableName);
    secretId = "flxbl-lambda/test/expire-test";
    const apiKey = await keyWith(flxbl, [...spec.scopes], spec.name);
    await secretsClient.send(new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify({ apiKey }) }));
  });
  afterAll(async () => {
    dynamodb.destroy();
    secretsClient.destroy();
    await Promise.all([flxbl.close(), sm.close(), ddb.close()]);
  });
  beforeEach(() => {
    // Quiet: the job's log lines are not what these tests look at.
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    flxbl.configure({ faults: { errorBurst: 0, rateLimitBurst: 0, rateLimitBurstRetryAfter: 1, latencyMs: 0 } });
    // The tests share one key: none inherits what another taught its rate controller.
    resetPacers();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("is its query and its per-record step: prepare, the lock, the summary and the sweep's end are wired in", async () => {
    // Prepare
    const { batch, ids } = await seedOrders(5);
    const paid = await seedOrders(1, "paid");
    const prepared: string[] = [];
    const ends: number[] = [];
    const job = makeJob<string>(batch, {
      prepare: async (context) => {
        expect(context.stopAt).toBeGreaterThan(Date.now());
        return "read once";
      },
      process: (record, { records, lock, prepared: value }) =>
        lock.run(`order#${record.id}`, async (hold) => {
          prepared.push(value);
          await records.update(record.id, { status: "expired" }, hold.callOptions);
          return "changed" as const;
        }),
      onSweepComplete: async ({ totals }) => {
        ends.push(totals.changed);
      },
    });

    // Act
    const first = await invoke(job);
    const again = await invoke(job);

    // Assess
    expect(first).toMatchObject({ job: `${spec.name}-${batch}`, complete: true, scanned: 5, changed: 5, failed: 0 });
    expect(first.checkpoint).toBeNull();
    for (const id of ids) expect(await statusOf(id)).toBe("expired");
    expect(await statusOf(paid.ids[0] as string)).toBe("paid");
    expect(prepared).toEqual(Array(5).fill("read once"));
    expect(ends).toEqual([5, 0]);
    // A rerun finds nothing left to do.
    expect(again).toMatchObject({ complete: true, scanned: 0, changed: 0 });
  });

  it("paces its FLXBL calls at its manifest entry's rateLimit, and reports the pacing in the summary", async () => {
    // Prepare
    const { batch } = await seedOrders(12);
    const job = makeJob(
      batch,
      {
        process: async (record, { records }) => {
          await records.update(record.id, { status: "expired" });
          return "changed" as const;
        },
      },
      { rateLimit: { rps: 20 } },
    );

    // Act
    const summary = await invoke(job);

    // Assess
    expect(summary).toMatchObject({ complete: true, changed: 12, pacing: { rps: 20, source: "budget", throttled: 0 } });
    // 13 calls or more (a page read, 12 updates) at 20 per second: no sooner than 12 intervals.
    expect(summary.durationMs).toBeGreaterThanOrEqual(12 * 50 - 20);
  });

  it("stops taking records at the stop margin, and the next invocation resumes from the checkpoint", async () => {
    // Prepare
    const { batch, ids } = await seedOrders(6);
    const visits = new Map<string, number>();
    const job = makeJob(batch, {
      pageSize: 2,
      concurrency: 1,
      // Ten seconds left, stop after the first half second: room for about two slow records
      // (the default margin would let all six through).
      stopMarginMs: 9_500,
      process: async (record: FlxblRecord<SweptOrder>, { records }) => {
        visits.set(record.id, (visits.get(record.id) ?? 0) + 1);
        await sleep(200);
        await records.update(record.id, { status: "expired" });
        return "changed";
      },
    });

    // Act
    const first = await invoke(job, 10);
    const rest = await invoke(job, 30);

    // Assess
    expect(first.complete).toBe(false);
    expect(first.checkpoint).not.toBeNull();
    expect(first.changed).toBeGreaterThan(0);
    expect(first.changed).toBeLessThan(6);
    expect(rest).toMatchObject({ complete: true, resumedFrom: first.checkpoint, runId: first.runId });
    expect(rest.run.changed).toBe(6);
    expect([...visits.values()].every((count) => count === 1)).toBe(true);
    for (const id of ids) expect(await statusOf(id)).toBe("expired");
  });

  it("stops by itself before the deadline: the default margin leaves time for the checkpoint", async () => {
    // Prepare: three seconds, a two-second margin (1 s early timeout + 1 s), 200 ms per record.
    const { batch, ids } = await seedOrders(6);
    const job = makeJob(batch, {
      concurrency: 1,
      process: async (record: FlxblRecord<SweptOrder>, { records }) => {
        await sleep(200);
        await records.update(record.id, { status: "expired" });
        return "changed";
      },
    });

    // Act
    const first = await invoke(job, 3);
    const rest = await invoke(job, 30);

    // Assess
    expect(first).toMatchObject({ complete: false });
    expect(first.changed).toBeLessThan(6);
    expect(rest).toMatchObject({ complete: true, resumedFrom: first.checkpoint });
    expect(rest.run.changed).toBe(6);
    for (const id of ids) expect(await statusOf(id)).toBe("expired");
  });

  it("counts a longer early timeout into the margin, so the run stops before middy cuts it off", async () => {
    // Prepare: ten seconds, middy answering 8.5 s early: the run must stop within about 0.5 s.
    const { batch } = await seedOrders(6);
    const job = makeJob(batch, {
      concurrency: 1,
      timeoutEarlyInMillis: 8_500,
      process: async (record: FlxblRecord<SweptOrder>, { records }) => {
        await sleep(200);
        await records.update(record.id, { status: "expired" });
        return "changed";
      },
    });

    // Act
    const first = await invoke(job, 10);

    // Assess
    expect(first).toMatchObject({ complete: false, failed: 0 });
    expect(first.checkpoint).not.toBeNull();
  });

  it("fails the invocation with JobFailedError when a record fails, after working on the others", async () => {
    // Prepare: one record's step takes a lock outside the namespaces its manifest entry declares.
    const { batch, ids } = await seedOrders(3);
    const [odd] = ids as [string];
    const job = makeJob(batch, {
      process: (record, { records, lock }) =>
        lock.run(record.id === odd ? `product#${record.id}` : `order#${record.id}`, async (hold) => {
          await records.update(record.id, { status: "expired" }, hold.callOptions);
          return "changed" as const;
        }),
    });

    // Act
    const failed = await invoke(job).catch((err: unknown) => err);

    // Assess
    expect(failed).toBeInstanceOf(JobFailedError);
    const summary = (failed as JobFailedError).summary;
    expect(summary).toMatchObject({ changed: 2, failed: 1 });
    expect(summary.failures).toEqual([{ id: odd, error: expect.stringContaining("product") }]);
    expect(await statusOf(odd)).toBe("pending");
    for (const id of ids.slice(1)) expect(await statusOf(id)).toBe("expired");
  });

  it("retries prepare through FLXBL throttling instead of failing the run", async () => {
    // Prepare
    const { batch, ids } = await seedOrders(2);
    let reads = 0;
    const job = makeJob<number>(batch, {
      prepare: async ({ flxbl: client }) => {
        reads++;
        return (await client.entity<SweptOrder>("Order").query({ where: { currency: batch } })).length;
      },
      process: async (record, { records, prepared: count }) => {
        expect(count).toBe(2);
        await records.update(record.id, { status: "expired" });
        return "changed";
      },
    });
    // More 429s than the client retries one call: prepare itself must be taken again.
    flxbl.configure({ faults: { rateLimitBurst: 4, rateLimitBurstRetryAfter: 0 } });

    // Act
    const summary = await invoke(job);

    // Assess
    expect(summary).toMatchObject({ complete: true, changed: 2, failed: 0 });
    expect(reads).toBeGreaterThan(1);
    for (const id of ids) expect(await statusOf(id)).toBe("expired");
  });
});

describe("stopMarginFor", () => {
  it("is the early timeout plus a tenth of the time left, between 1 and 10 seconds", () => {
    expect(stopMarginFor(300_000)).toBe(11_000);
    expect(stopMarginFor(3_000)).toBe(2_000);
    expect(stopMarginFor(30_000, 5_000)).toBe(8_000);
  });
});
