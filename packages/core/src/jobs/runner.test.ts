import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { ensureStateTable, type LocalDynamoDB, startFaultProxy, startLocalDynamoDB } from "@flxbl-lambda/aws-local";
import type { Emulator } from "@flxbl-lambda/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// The emulator is the FLXBL stand-in these integration tests run against; core does not ship with it.
import { keyWith, startAppEmulator } from "../../../emulator/src/test-helpers.js";
import { createFlxblClient, type EntityClient } from "../flxbl/client.js";
import { FlxblRateLimitError, FlxblTimeoutError, FlxblValidationError } from "../flxbl/errors.js";
import type { PacingSnapshot } from "../flxbl/rate-controller.js";
import type { FlxblRecord } from "../flxbl/types.js";
import { SecretUnavailableError } from "../keys/secret-loader.js";
import { RetryLaterError } from "../middleware/errors.js";
import { StateUnavailableError } from "../state/errors.js";
import { LockLostError } from "../state/lock.js";
import { RunStore, type RunTotals } from "./run-store.js";
import {
  JobFailedError,
  type JobOptions,
  type JobSummary,
  type RecordOutcome,
  retryTransient,
  runJob,
} from "./runner.js";
import { expireIfPending } from "./test-fixtures/sweep.js";

interface Order {
  number: string;
  status: "pending" | "paid" | "refunded" | "expired" | "cancelled";
  total: number;
  currency: string;
}

const tableName = "runner-test-state";
const zero: RunTotals = { scanned: 0, changed: 0, unchanged: 0, failed: 0 };

/** What offset paging (`offset += page.length`) would visit of `ids` when visiting makes `leaves(id)` drop out. */
function offsetPagingVisits(ids: string[], pageSize: number, leaves: (id: string) => boolean): Set<string> {
  let matching = [...ids].sort();
  const visited = new Set<string>();
  for (let offset = 0; ; ) {
    const page = matching.slice(offset, offset + pageSize);
    if (page.length === 0) return visited;
    for (const id of page) visited.add(id);
    matching = matching.filter((id) => !(page.includes(id) && leaves(id)));
    offset += page.length;
  }
}

/** Counts how often each record was handed to `process`. */
function visitLog() {
  const counts = new Map<string, number>();
  return {
    counts,
    visit: (id: string) => counts.set(id, (counts.get(id) ?? 0) + 1),
    /** Ids visited more than once. */
    twice: () => [...counts].filter(([, n]) => n > 1).map(([id]) => id),
  };
}

/** A key's pacing as the client reports it, learned at `rps`, with no hold. */
const pacingAt = (p: { rps: number; waiting: number; throttled: number }): PacingSnapshot => ({
  ...p,
  source: "learned",
  blockedUntil: 0,
  started: 0,
  waitedMs: 0,
});

describe("runJob against the emulator and dynalite", () => {
  let flxbl: Emulator;
  let dynamodb: LocalDynamoDB;
  let ddb: DynamoDBDocumentClient;
  let admin: EntityClient<Order>;
  let orders: EntityClient<Order>;
  const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

  beforeAll(async () => {
    [flxbl, dynamodb] = await Promise.all([startAppEmulator(), startLocalDynamoDB()]);
    const client = new DynamoDBClient({
      endpoint: dynamodb.url,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    await ensureStateTable(client, tableName);
    ddb = DynamoDBDocumentClient.from(client);
    admin = createFlxblClient({ baseUrl: flxbl.url, apiKey: flxbl.adminKey }).entity<Order>("Order");
    // The job's own client: a key with only what a sweep over orders uses.
    const key = await keyWith(flxbl, ["entity:Order:read", "entity:Order:update"], "runner test");
    orders = createFlxblClient({ baseUrl: flxbl.url, apiKey: key }).entity<Order>("Order");
  });
  afterAll(async () => {
    await Promise.all([flxbl?.close(), dynamodb?.close()]);
  });

  /** `n` pending orders under a tag of their own (their currency), so each test sweeps only its records. */
  const seed = async (n: number) => {
    const tag = `t${randomUUID().slice(0, 8)}`;
    const created = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        admin.create({ number: `${tag}-${i}`, status: "pending", total: i, currency: tag }),
      ),
    );
    return { tag, records: created, ids: created.map((r) => r.id).sort() };
  };
  const storeFor = (tag: string) => new RunStore({ tableName, job: tag, client: ddb });
  const job = (
    tag: string,
    process: JobOptions<Order>["process"],
    options: Partial<JobOptions<Order>> = {},
  ): Promise<JobSummary> =>
    runJob<Order>({
      name: tag,
      store: storeFor(tag),
      entity: orders,
      where: () => ({ currency: tag, status: "pending" }),
      process,
      deadline: Date.now() + 60_000,
      stopMarginMs: 1_000,
      pageSize: 20,
      concurrency: 4,
      logger: silent,
      ...options,
    });
  const checkpointOf = async (tag: string) =>
    (await ddb.send(new GetCommand({ TableName: tableName, Key: { id: `job#${tag}` } }))).Item;
  const countPending = async (tag: string) =>
    (await admin.queryWithCount({ where: { currency: tag, status: "pending" }, limit: 1 })).totalCount;
  const expire = (record: FlxblRecord<Order>): Promise<RecordOutcome> =>
    admin.update(record.id, { status: "expired" }).then(() => "changed");

  it("visits every matching record exactly once when the work moves each one out of the filter", async () => {
    const { tag, ids } = await seed(250);
    const log = visitLog();

    const summary = await job(tag, (record) => {
      log.visit(record.id);
      return expire(record);
    });

    expect(offsetPagingVisits(ids, 20, () => true).size).toBeLessThan(250);
    expect([...log.counts.keys()].sort()).toEqual(ids);
    expect(log.twice()).toEqual([]);
    expect(summary).toMatchObject({ complete: true, scanned: 250, changed: 250, failed: 0 });
    expect(await countPending(tag)).toBe(0);
  });

  it("visits every matching record exactly once when the work moves only some out of the filter", async () => {
    const { tag, ids, records } = await seed(120);
    const leaving = new Set(records.filter((r) => r.total % 2 === 1).map((r) => r.id));
    const log = visitLog();

    const summary = await job(tag, (record) => {
      log.visit(record.id);
      return leaving.has(record.id) ? expire(record) : Promise.resolve("unchanged");
    });

    expect(offsetPagingVisits(ids, 20, (id) => leaving.has(id)).size).toBeLessThan(120);
    expect([...log.counts.keys()].sort()).toEqual(ids);
    expect(log.twice()).toEqual([]);
    expect(summary).toMatchObject({ complete: true, scanned: 120, changed: 60, unchanged: 60 });
  });

  it("goes on with the other records when the work fails for some", async () => {
    const { tag, records } = await seed(36);
    const failing = new Set(records.filter((r) => r.total % 3 !== 0).map((r) => r.id));

    await job(tag, async (record) => {
      if (failing.has(record.id)) throw new Error(`cannot expire ${record.number}`);
      return expire(record);
    }).catch(() => undefined);

    const expired = await admin.query({ where: { currency: tag, status: "expired" }, limit: 100 });
    expect(expired.map((r) => r.id).sort()).toEqual(
      records
        .filter((r) => !failing.has(r.id))
        .map((r) => r.id)
        .sort(),
    );
  });

  it("throws JobFailedError carrying the summary when records failed", async () => {
    const { tag, records } = await seed(36);
    const failing = new Set(records.filter((r) => r.total % 3 !== 0).map((r) => r.id));

    const error = await job(tag, async (record) => {
      if (failing.has(record.id)) throw new Error("boom");
      return "unchanged";
    }).then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(error).toBeInstanceOf(JobFailedError);
    const summary = (error as JobFailedError).summary;
    expect(summary).toMatchObject({ job: tag, scanned: 36, failed: 24, unchanged: 12, complete: true });
    expect((error as Error).message).toContain("24 failed record(s) of 36");
  });

  it("reports at most 20 failures, each naming its record and error", async () => {
    const { tag, records } = await seed(36);
    const failing = new Set(records.filter((r) => r.total % 3 !== 0).map((r) => r.id));

    const error = (await job(tag, async (record) => {
      if (failing.has(record.id)) throw new TypeError(`bad ${record.number}`);
      return "unchanged";
    }).catch((err: unknown) => err)) as JobFailedError;

    const { failures } = error.summary;
    expect(failures).toHaveLength(20);
    expect(new Set(failures.map((f) => f.id)).size).toBe(20);
    for (const f of failures) {
      expect(failing.has(f.id)).toBe(true);
      const record = records.find((r) => r.id === f.id);
      expect(f.error).toBe(`TypeError: bad ${record?.number}`);
    }
  });

  it("stops taking records before the deadline and saves a checkpoint", async () => {
    const { tag, ids } = await seed(120);
    const log = visitLog();
    const deadline = Date.now() + 700;

    const summary = await job(
      tag,
      async (record) => {
        log.visit(record.id);
        await sleep(25);
        return "unchanged";
      },
      { deadline, stopMarginMs: 200, pageSize: 10, concurrency: 2 },
    );
    const endedAt = Date.now();

    expect(summary.complete).toBe(false);
    expect(endedAt).toBeLessThan(deadline);
    const visited = [...log.counts.keys()].sort();
    expect(visited).toEqual(ids.slice(0, visited.length));
    expect(summary.checkpoint).toBe(visited.at(-1));
    expect(await checkpointOf(tag)).toMatchObject({
      cursor: summary.checkpoint,
      runId: summary.runId,
      leaseUntil: 0,
      totals: { ...zero, scanned: visited.length, unchanged: visited.length },
    });
  });

  it("resumes from the checkpoint in the next invocation, visiting no record twice", async () => {
    const { tag, ids } = await seed(120);
    const log = visitLog();
    const work = async (record: FlxblRecord<Order>): Promise<RecordOutcome> => {
      log.visit(record.id);
      await sleep(25);
      return "unchanged";
    };
    const first = await job(tag, work, { deadline: Date.now() + 700, stopMarginMs: 200, pageSize: 10, concurrency: 2 });

    const second = await job(tag, work, { pageSize: 10, concurrency: 2 });

    expect(first.complete).toBe(false);
    expect(second).toMatchObject({ complete: true, resumedFrom: first.checkpoint, runId: first.runId });
    expect(second.scanned).toBe(120 - first.scanned);
    expect(second.run.scanned).toBe(120);
    expect([...log.counts.keys()].sort()).toEqual(ids);
    expect(log.twice()).toEqual([]);
  });

  it("clears a finished run's checkpoint, so the next run starts anew", async () => {
    const { tag } = await seed(30);
    const first = await job(tag, async () => "unchanged");

    const saved = await checkpointOf(tag);
    const second = await job(tag, async () => "unchanged");

    expect(first.complete).toBe(true);
    expect(saved).toBeUndefined();
    expect(second).toMatchObject({ complete: true, resumedFrom: null, scanned: 30 });
    expect(second.runId).not.toBe(first.runId);
  });

  it("takes over a run whose owner crashed once its lease has lapsed, resuming from its checkpoint", async () => {
    const { tag, ids } = await seed(40);
    const crashed = storeFor(tag);
    const claim = await crashed.claim("crashed", Date.now() + 60_000, {});
    await crashed.save(
      "crashed",
      { cursor: ids[9] ?? null, totals: { ...zero, scanned: 10, unchanged: 10 } },
      Date.now() - 1,
    );
    const log = visitLog();

    const summary = await job(tag, async (record) => {
      log.visit(record.id);
      return "unchanged";
    });

    expect(claim.kind).toBe("new");
    expect(summary).toMatchObject({ complete: true, resumedFrom: ids[9], scanned: 30 });
    expect(summary.runId).toBe(claim.kind === "new" ? claim.state.runId : undefined);
    expect(summary.run.scanned).toBe(40);
    expect([...log.counts.keys()].sort()).toEqual(ids.slice(10));
  });

  it("refuses the crashed owner's writes once another invocation took the run over", async () => {
    const { tag } = await seed(10);
    const crashed = storeFor(tag);
    await crashed.claim("crashed", Date.now() - 1, {});
    const writes: Promise<boolean>[] = [];

    const summary = await job(tag, async () => {
      // Once, mid-run: the crashed owner comes back and tries to save its progress.
      if (writes.length === 0)
        writes.push(crashed.save("crashed", { cursor: null, totals: zero }, Date.now() + 60_000));
      await writes[0];
      return "unchanged";
    });

    expect(await Promise.all(writes)).toEqual([false]);
    expect(summary).toMatchObject({ complete: true, scanned: 10 });
  });

  it("leaves a run alone while its owner's lease is live", async () => {
    const { tag } = await seed(10);
    await storeFor(tag).claim("other", Date.now() + 60_000, {});
    const log = visitLog();

    const summary = await job(tag, async (record) => {
      log.visit(record.id);
      return "unchanged";
    });

    expect(summary.skipped).toEqual(expect.any(String));
    expect(summary).toMatchObject({ runId: null, complete: false, scanned: 0 });
    expect(log.counts.size).toBe(0);
    expect(await checkpointOf(tag)).toMatchObject({ owner: "other" });
  });

  it("never works on more records at once than its concurrency", async () => {
    const { tag } = await seed(60);
    let inFlight = 0;
    let most = 0;

    await job(
      tag,
      async () => {
        most = Math.max(most, ++inFlight);
        await sleep(10);
        inFlight--;
        return "unchanged";
      },
      { concurrency: 3 },
    );

    expect(most).toBe(3);
  });

  it("works on fewer records at once while the key's controller hears 429s the work never sees", async () => {
    const { tag } = await seed(40);
    let inFlight = 0;
    let done = 0;
    let mostLate = 0;
    let heard = 0;
    const pacing = () => pacingAt({ rps: 10, waiting: 0, throttled: ++heard });

    const summary = await job(
      tag,
      async () => {
        inFlight++;
        if (done >= 16) mostLate = Math.max(mostLate, inFlight);
        await sleep(5);
        inFlight--;
        done++;
        return "unchanged";
      },
      { concurrency: 8, pacing },
    );

    expect(summary.pacing?.lanes).toBe(1);
    expect(mostLate).toBe(1);
  });

  it("adds lanes back, one per record, once nothing waits at the key's pace", async () => {
    const { tag } = await seed(40);
    let looks = 0;
    let most = 0;
    let inFlight = 0;
    let done = 0;
    // 429s heard at the first three looks (8 -> 4 -> 2 -> 1 lanes), then none and no queue.
    const pacing = () => pacingAt({ rps: 1000, waiting: 0, throttled: Math.min(++looks, 3) });

    const summary = await job(
      tag,
      async () => {
        if (done >= 20) most = Math.max(most, ++inFlight);
        await sleep(5);
        if (done >= 20) inFlight--;
        done++;
        return "unchanged";
      },
      { concurrency: 8, pacing },
    );

    expect(summary.pacing?.lanes).toBe(8);
    expect(most).toBeGreaterThan(4);
  });

  it("keeps its lanes while calls wait at the key's pace: the pace, not the lanes, sets the speed", async () => {
    const { tag } = await seed(40);
    let most = 0;
    let inFlight = 0;
    const pacing = () => pacingAt({ rps: 10, waiting: 6, throttled: 0 });

    const summary = await job(
      tag,
      async () => {
        most = Math.max(most, ++inFlight);
        await sleep(5);
        inFlight--;
        return "unchanged";
      },
      { concurrency: 8, pacing },
    );

    expect(summary.pacing?.lanes).toBe(8);
    expect(most).toBe(8);
  });

  it("keeps its concurrency while the key's pacer has no queue", async () => {
    const { tag } = await seed(40);
    const pacing = () => pacingAt({ rps: 1000, waiting: 0, throttled: 0 });

    const summary = await job(
      tag,
      async () => {
        await sleep(5);
        return "unchanged";
      },
      { concurrency: 8, pacing },
    );

    expect(summary.pacing).toEqual({ rps: 1000, source: "learned", throttled: 0, lanes: 8 });
  });

  it("takes a record again after a 429 from the work and counts it once", async () => {
    const { tag, records } = await seed(30);
    const throttledOnce = new Set(records.slice(0, 5).map((r) => r.id));
    const log = visitLog();

    const summary = await job(tag, async (record) => {
      log.visit(record.id);
      if (throttledOnce.delete(record.id)) {
        throw new FlxblRateLimitError({ method: "PATCH", path: "/dynamic/Order/x" }, "was rate limited", {
          status: 429,
          retryAfterMs: 50,
        });
      }
      return "changed";
    });

    expect(summary).toMatchObject({ complete: true, scanned: 30, changed: 30, failed: 0, throttled: 5 });
    expect(log.twice()).toHaveLength(5);
    expect([...log.counts.values()].every((n) => n <= 2)).toBe(true);
  });

  it("waits at least Retry-After before taking a throttled record again", async () => {
    const { tag, records } = await seed(8);
    const target = records[0]?.id;
    const attempts: number[] = [];

    await job(tag, async (record) => {
      if (record.id !== target) return "unchanged";
      attempts.push(Date.now());
      if (attempts.length === 1) {
        throw new FlxblRateLimitError({ method: "PATCH", path: "/dynamic/Order/x" }, "was rate limited", {
          status: 429,
          retryAfterMs: 300,
        });
      }
      return "changed";
    });

    expect(attempts).toHaveLength(2);
    expect((attempts[1] ?? 0) - (attempts[0] ?? 0)).toBeGreaterThanOrEqual(295);
  });

  it("reads on through 429s on its page reads", async () => {
    const { tag, ids } = await seed(30);
    // One attempt per call, so the 429s reach the runner instead of the client's own retries.
    const key = await keyWith(flxbl, ["entity:Order:read"], "runner test, no retries");
    const impatient = createFlxblClient({ baseUrl: flxbl.url, apiKey: key, retry: { attempts: 1 } });
    const log = visitLog();
    flxbl.configure({ faults: { rateLimitBurst: 2, rateLimitBurstRetryAfter: 0 } });

    const summary = await job(
      tag,
      async (record) => {
        log.visit(record.id);
        return "unchanged";
      },
      { entity: impatient.entity<Order>("Order") },
    );

    expect(summary).toMatchObject({ complete: true, scanned: 30, throttled: 2 });
    expect([...log.counts.keys()].sort()).toEqual(ids);
  });

  it.each([
    ["its lock is busy", () => new RetryLaterError("order#x is being changed by another invocation", 0.05)],
    ["its lock was lost", () => new LockLostError("the lock on order#x could not be renewed", 0.05)],
    [
      "its calls were aborted by its lost lock",
      () =>
        new FlxblTimeoutError({ method: "PATCH", path: "/dynamic/Order/x" }, "was aborted by the caller", {
          cause: new LockLostError("the lock on order#x was taken over", 0.05),
        }),
    ],
    ["the state table failed", () => new StateUnavailableError("taking a lock")],
    ["Secrets Manager failed", () => new SecretUnavailableError("s", "Reading secret s failed")],
  ])(
    "takes a record again later in the run when %s, and does not count it as failed or throttled",
    async (_, error) => {
      const { tag, ids } = await seed(6);
      const busy = ids[2] as string;
      const log = visitLog();

      const summary = await job(tag, async (record) => {
        log.visit(record.id);
        if (record.id === busy && (log.counts.get(busy) ?? 0) < 3) throw error();
        return "unchanged";
      });

      expect(summary).toMatchObject({ complete: true, scanned: 6, unchanged: 6, failed: 0, throttled: 0 });
      expect(log.counts.get(busy)).toBe(3);
    },
  );

  it("is taken over within its lease when its invocation is killed, and counts every record exactly once", async () => {
    const { tag } = await seed(40);
    const leaseMs = 1_500;
    const key = await keyWith(flxbl, ["entity:Order:read", "entity:Order:update"], "crashing job");
    const child = fork(fileURLToPath(new URL("./test-fixtures/crash-job.ts", import.meta.url)), [], {
      execArgv: ["--import", import.meta.resolve("tsx")],
      env: {
        PATH: process.env.PATH ?? "",
        FLXBL_URL: flxbl.url,
        FLXBL_KEY: key,
        DYNAMODB_URL: dynamodb.url,
        TABLE: tableName,
        TAG: tag,
        LEASE_MS: String(leaseMs),
      },
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    let done = 0;
    await new Promise<void>((resolve, reject) => {
      child.on("message", (message: { done?: string }) => {
        if (message.done && ++done === 25) resolve();
      });
      child.once("exit", (code) => reject(new Error(`the job process ended (${code}) before it was killed`)));
    });
    child.kill("SIGKILL");
    await once(child, "exit");
    const killedAt = Date.now();

    // The next scheduled invocation: skipped while the dead owner's lease runs, then it resumes.
    let summary: JobSummary;
    for (;;) {
      summary = await job(tag, (record) => expireIfPending(orders, record));
      if (!summary.skipped) break;
      await sleep(100);
    }

    expect(Date.now() - killedAt).toBeLessThan(leaseMs + 2_000);
    expect(summary.resumedFrom === null && summary.recovered === 0).toBe(false);
    expect(await countPending(tag)).toBe(0);
    expect(summary.run.scanned).toBe(40);
    expect(summary.run.changed + summary.run.unchanged).toBe(40);
    expect(summary.run.failed).toBe(0);
  });

  it("fails cleanly when the state table goes away mid-run, leaving no page read behind unhandled", async () => {
    const { tag } = await seed(30);
    const proxy = await startFaultProxy(dynamodb.url);
    const viaProxy = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: proxy.url,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
        maxAttempts: 1,
      }),
    );
    let reads = 0;
    const error = await runJob<Order>({
      name: tag,
      store: new RunStore({ tableName, job: tag, client: viaProxy }),
      entity: orders,
      // The second page read is refused (an operator FLXBL does not know), and at that moment the
      // state table goes away, so saving the first page's checkpoint fails while that read is out.
      where: () => {
        if (++reads === 1) return { currency: tag, status: "pending" };
        void proxy.set("reset");
        return { currency: tag, status: { $regex: "p.*" } } as never;
      },
      process: async () => "unchanged",
      deadline: Date.now() + 30_000,
      stopMarginMs: 1_000,
      pageSize: 10,
      logger: silent,
    }).catch((err: unknown) => err);
    await proxy.close();
    // An unhandled rejection of the page read would fail this file's run in vitest.
    await sleep(100);

    expect(error).toBeInstanceOf(StateUnavailableError);
  });

  it("logs the summary it returns as one structured line", async () => {
    const { tag } = await seed(12);
    const lines: Array<[string, unknown]> = [];
    const logger = {
      ...silent,
      info: (message: unknown, ...extra: unknown[]) => void lines.push([String(message), extra[0]]),
    };

    const summary = await job(tag, async () => "unchanged", { logger });

    expect(lines).toEqual([["job run finished", summary]]);
  });
});

describe("retryTransient", () => {
  const site = { method: "POST", path: "/dynamic/StockAlert/query" };
  const throttled = (retryAfterMs: number) =>
    new FlxblRateLimitError(site, "was rate limited", { status: 429, retryAfterMs });

  it("calls again after a 429, waiting at least Retry-After, until the call succeeds", async () => {
    const calls: number[] = [];

    const result = await retryTransient(
      async () => {
        calls.push(Date.now());
        if (calls.length < 3) throw throttled(250);
        return "read";
      },
      { stopAt: Date.now() + 10_000 },
    );

    expect(result).toBe("read");
    expect(calls).toHaveLength(3);
    expect((calls[1] ?? 0) - (calls[0] ?? 0)).toBeGreaterThanOrEqual(245);
    expect((calls[2] ?? 0) - (calls[1] ?? 0)).toBeGreaterThanOrEqual(245);
  });

  it("gives up with the last error when the next wait would pass stopAt", async () => {
    let calls = 0;
    const last = throttled(5_000);

    const error = await retryTransient(
      async () => {
        calls++;
        throw last;
      },
      { stopAt: Date.now() + 1_000 },
    ).catch((err: unknown) => err);

    expect(error).toBe(last);
    expect(calls).toBe(1);
  });

  it("rethrows an error that is not transient at once", async () => {
    let calls = 0;
    const invalid = new FlxblValidationError(site, "was rejected as invalid", { status: 422 });

    const error = await retryTransient(
      async () => {
        calls++;
        throw invalid;
      },
      { stopAt: Date.now() + 10_000 },
    ).catch((err: unknown) => err);

    expect(error).toBe(invalid);
    expect(calls).toBe(1);
  });
});
