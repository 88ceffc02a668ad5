import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { EntityClient } from "../flxbl/client.js";
import { FlxblError, FlxblRateLimitError, FlxblTimeoutError } from "../flxbl/errors.js";
import type { FlxblRecord, Where } from "../flxbl/types.js";
import type { RunStore, RunTotals } from "./run-store.js";

/**
 * What one record's work did.
 *
 * @example
 * ```ts
 * async function expire(order: FlxblRecord<Order>): Promise<RecordOutcome> {
 *   if (order.status !== "pending") return "unchanged";
 *   await orders.update(order.id, { status: "expired" });
 *   return "changed";
 * }
 * ```
 */
export type RecordOutcome = "changed" | "unchanged";

/**
 * What the per-record work knows beyond the record.
 *
 * @example
 * ```ts
 * async function expire(order: FlxblRecord<Order>, { params }: RecordContext): Promise<RecordOutcome> {
 *   if (order.createdAt >= (params.cutoff ?? "")) return "unchanged";
 *   await orders.update(order.id, { status: "expired" });
 *   return "changed";
 * }
 * ```
 */
export interface RecordContext {
  /** Epoch ms when the page holding the record was read: older than any write made since. */
  fetchedAt: number;
  /** The run's fixed parameters (saved with the checkpoint). */
  params: Record<string, string>;
}

/**
 * How to run a job.
 *
 * @example
 * ```ts
 * const options: JobOptions<Order> = {
 *   name: "expire-stale-orders",
 *   store: new RunStore({ tableName: stateTableName(env), job: "expire-stale-orders" }),
 *   entity: context.flxbl.entity<Order>("Order"),
 *   params: () => ({ cutoff: new Date(Date.now() - 86_400_000).toISOString() }),
 *   where: (params) => ({ status: "pending", createdAt: { $lt: params.cutoff } }),
 *   process: expire,
 *   deadline: Date.now() + context.getRemainingTimeInMillis(),
 *   logger: context.logger,
 * };
 * const summary = await runJob(options);
 * ```
 */
export interface JobOptions<T extends object> {
  /** The job's name: its checkpoint key. */
  name: string;
  store: RunStore;
  /** The entity to sweep. */
  entity: EntityClient<T>;
  /** Which records the run visits; may use the run's params (fixed at the run's start). */
  where: (params: Record<string, string>) => Where<T>;
  /** Values fixed for the whole run, computed when a new run starts (e.g. a cutoff time). */
  params?: () => Record<string, string>;
  /** The per-record work. Throwing counts the record as failed; other records go on. */
  process: (record: FlxblRecord<T>, context: RecordContext) => Promise<RecordOutcome>;
  /** Runs once, after the last page, before the checkpoint is cleared (e.g. a second phase). */
  onSweepComplete?: (totals: RunTotals) => Promise<void>;
  /** Epoch ms of the Lambda deadline. */
  deadline: number;
  /** Stop taking new records this long before the deadline. @default 5000 */
  stopMarginMs?: number;
  /** @default 100 */
  pageSize?: number;
  /** Records worked on at once, at most. @default 8 */
  concurrency?: number;
  logger: Pick<Logger, "info" | "warn" | "error">;
  /** Clock in epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * A run's outcome, returned by the handler and logged as one structured line.
 *
 * @example
 * ```ts
 * const summary: JobSummary = await runJob(options);
 * if (!summary.complete) console.log(`resumes after ${summary.checkpoint}; ${summary.run.scanned} scanned so far`);
 * ```
 */
export interface JobSummary extends RunTotals {
  job: string;
  runId: string | null;
  /** The run finished in this invocation (its checkpoint is cleared). */
  complete: boolean;
  /** The checkpoint cursor this invocation resumed from (null for a new run). */
  resumedFrom: string | null;
  /** The cursor left for the next invocation (null when complete). */
  checkpoint: string | null;
  /** Totals of the whole run so far, across invocations. */
  run: RunTotals;
  /** Set when another invocation owns the run, so this one did nothing. */
  skipped?: string;
  failures: Array<{ id: string; error: string }>;
  pages: number;
  throttled: number;
  durationMs: number;
}

/**
 * A run finished with failed records: thrown so Lambda's retries and failure destination apply.
 *
 * @example
 * ```ts
 * const summary = await runJob(options).catch((err) => {
 *   if (err instanceof JobFailedError) console.error(err.summary.failures); // up to 20 { id, error }
 *   throw err;
 * });
 * ```
 */
export class JobFailedError extends Error {
  override name = "JobFailedError";
  constructor(readonly summary: JobSummary) {
    super(`Job ${summary.job} finished with ${summary.failed} failed record(s) of ${summary.scanned}`);
  }
}

/** The keyset field: immutable, unique and sortable, so paging skips nothing however the filter changes. */
const cursorField = "id";

/**
 * Sweeps every record matching `where` once per run: keyset paging on `id` (so the job's own
 * updates moving records out of the filter cannot make it skip any), bounded concurrency, 429
 * adaptation, and a DynamoDB checkpoint when the Lambda deadline nears, resumed by the next
 * invocation. Returns the summary; throws {@link JobFailedError} when records failed.
 *
 * @example
 * ```ts
 * const summary = await runJob<Order>({
 *   name: "expire-stale-orders", store, entity: orders, logger,
 *   where: () => ({ status: "pending" }),
 *   process: async (order) => (await orders.update(order.id, { status: "expired" }), "changed"),
 *   deadline: Date.now() + context.getRemainingTimeInMillis(),
 * });
 * ```
 */
export async function runJob<T extends object>(options: JobOptions<T>): Promise<JobSummary> {
  const now = options.now ?? Date.now;
  const started = now();
  const owner = randomUUID();
  const stopAt = options.deadline - (options.stopMarginMs ?? 5_000);
  const pageSize = options.pageSize ?? 100;
  const maxConcurrency = Math.max(1, options.concurrency ?? 8);
  const { logger, store } = options;

  const claim = await store.claim(owner, options.deadline, options.params?.() ?? {});
  if (claim.kind === "busy") {
    const summary: JobSummary = {
      job: options.name,
      runId: null,
      complete: false,
      resumedFrom: null,
      checkpoint: null,
      run: { scanned: 0, changed: 0, unchanged: 0, failed: 0 },
      skipped: "another invocation owns the current run",
      failures: [],
      pages: 0,
      throttled: 0,
      scanned: 0,
      changed: 0,
      unchanged: 0,
      failed: 0,
      durationMs: now() - started,
    };
    logger.warn("job run skipped", { ...summary });
    return summary;
  }

  const { state } = claim;
  const resumedFrom = claim.kind === "resumed" ? state.cursor : null;
  const totals: RunTotals = { scanned: 0, changed: 0, unchanged: 0, failed: 0 };
  const run = { ...state.totals };
  const failures: JobSummary["failures"] = [];
  let cursor = state.cursor;
  let pages = 0;
  let throttled = 0;
  let limit = maxConcurrency;
  let pauseUntil = 0;
  let longestPage = 0;
  let complete = false;
  const count = (key: keyof RunTotals) => {
    totals[key] += 1;
    run[key] += 1;
  };

  /** Reads the page after `after`; rides out throttling and outages until the stop time (then `undefined`). */
  const fetchPage = async (
    after: string | null,
  ): Promise<{ records: FlxblRecord<T>[]; fetchedAt: number } | undefined> => {
    const userWhere = options.where(state.params);
    const where = (after === null ? userWhere : { $and: [userWhere, { [cursorField]: { $gt: after } }] }) as Where<T>;
    for (let attempt = 0; ; attempt++) {
      const fetchedAt = now();
      try {
        const records = await options.entity.query({
          where,
          orderBy: cursorField as never,
          orderDirection: "ASC",
          limit: pageSize,
        });
        return { records, fetchedAt };
      } catch (err) {
        if (!(err instanceof FlxblError) || !err.transient) throw err;
        throttled += err instanceof FlxblRateLimitError ? 1 : 0;
        const hinted = "retryAfterMs" in err && typeof err.retryAfterMs === "number" ? err.retryAfterMs : 0;
        const wait = Math.max(hinted, Math.min(5_000, 200 * 2 ** attempt));
        if (now() + wait >= stopAt) return undefined;
        logger.warn("job page read failed; retrying", { job: options.name, error: describe(err), waitMs: wait });
        await sleep(wait);
      }
    }
  };

  /** Works through one page; returns the id up to which every record is done, and whether it stopped early. */
  const processPage = async (records: FlxblRecord<T>[], fetchedAt: number) => {
    const done = new Array<boolean>(records.length).fill(false);
    const queue = records.map((_, i) => i);
    let stopped = false;
    let inFlight = 0;
    let streak = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (!stopped && inFlight < limit && queue.length > 0) {
          if (now() >= stopAt) {
            stopped = true;
            break;
          }
          const wait = pauseUntil - now();
          if (wait > 0) {
            setTimeout(pump, Math.min(wait, Math.max(0, stopAt - now())));
            return;
          }
          const i = queue.shift() as number;
          const record = records[i] as FlxblRecord<T>;
          inFlight++;
          options
            .process(record, { fetchedAt, params: state.params })
            .then(
              (outcome) => {
                done[i] = true;
                count("scanned");
                count(outcome);
                if (++streak >= limit * 4 && limit < maxConcurrency) {
                  limit++;
                  streak = 0;
                }
              },
              (err: unknown) => {
                if (err instanceof FlxblRateLimitError || (err instanceof FlxblTimeoutError && now() < stopAt)) {
                  // Throttled past the client's own retries: slow down and try the record again.
                  throttled++;
                  streak = 0;
                  limit = Math.max(1, Math.floor(limit / 2));
                  const floor = err instanceof FlxblRateLimitError ? (err.retryAfterMs ?? 1000) : 1000;
                  pauseUntil = Math.max(pauseUntil, now() + floor);
                  queue.unshift(i);
                  return;
                }
                if (err instanceof FlxblTimeoutError) {
                  // Cut off by the deadline: not done, the next invocation takes it again.
                  stopped = true;
                  return;
                }
                done[i] = true;
                count("scanned");
                count("failed");
                if (failures.length < 20) failures.push({ id: record.id, error: describe(err) });
                logger.error("job record failed", { job: options.name, recordId: record.id, error: err as Error });
              },
            )
            .finally(() => {
              inFlight--;
              if ((stopped || queue.length === 0) && inFlight === 0) resolve();
              else pump();
            });
        }
        if ((stopped || queue.length === 0) && inFlight === 0) resolve();
      };
      pump();
    });
    let upTo = -1;
    while (upTo + 1 < done.length && done[upTo + 1]) upTo++;
    return { lastDone: upTo >= 0 ? (records[upTo] as FlxblRecord<T>).id : null, stoppedEarly: upTo < done.length - 1 };
  };

  try {
    let next: ReturnType<typeof fetchPage> | undefined = fetchPage(cursor);
    while (next) {
      if (now() >= stopAt) {
        next.catch(() => undefined);
        break;
      }
      const page = await next;
      next = undefined;
      if (!page) break;
      const { records, fetchedAt } = page;
      pages++;
      longestPage = Math.max(longestPage, records.length);
      // FLXBL's page cap is undocumented: only an empty page, or one shorter than the longest, ends the sweep.
      const last = records.at(-1);
      const more = records.length > 0 && records.length >= longestPage;
      // Read the next page while this one is worked on; keyset paging makes that safe.
      if (more && last) next = fetchPage(last.id);
      const { lastDone, stoppedEarly } = await processPage(records, fetchedAt);
      if (lastDone !== null) cursor = lastDone;
      if (stoppedEarly) {
        next?.catch(() => undefined);
        next = undefined;
        break;
      }
      if (!more) complete = true;
      else if (!(await store.save(owner, cursor, run, options.deadline))) throw new Error("lost the run's lease");
    }
    if (complete) await options.onSweepComplete?.(run);
  } catch (err) {
    // Keep what was done: the next invocation resumes after the last finished record.
    await store.release(owner, cursor, run).catch(() => undefined);
    throw err;
  }
  if (complete) await store.finish(owner);
  else await store.release(owner, cursor, run);

  const summary: JobSummary = {
    job: options.name,
    runId: state.runId,
    ...totals,
    complete,
    resumedFrom,
    checkpoint: complete ? null : cursor,
    run,
    failures,
    pages,
    throttled,
    durationMs: now() - started,
  };
  logger.info("job run finished", { ...summary });
  if (summary.failed > 0) throw new JobFailedError(summary);
  return summary;
}

/**
 * Calls `fn` again after transient FLXBL failures (429, 5xx, network) until it succeeds or the
 * next wait would pass `stopAt`, waiting at least `Retry-After` and backing off: for a job's reads
 * outside the sweep (which {@link runJob} already adapts), so throttling alone cannot fail a run.
 * `fn` must be safe to repeat from the start (a read).
 *
 * @example
 * ```ts
 * const open = await retryTransient(() => loadOpenAlerts(alerts), { stopAt: deadline - margin, logger });
 * ```
 */
export async function retryTransient<T>(
  fn: () => Promise<T>,
  options: { stopAt: number; logger?: Pick<Logger, "warn">; now?: () => number },
): Promise<T> {
  const now = options.now ?? Date.now;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof FlxblError) || !err.transient) throw err;
      const hinted = "retryAfterMs" in err && typeof err.retryAfterMs === "number" ? err.retryAfterMs : 0;
      const wait = Math.max(hinted, Math.min(5_000, 200 * 2 ** attempt));
      if (now() + wait >= options.stopAt) throw err;
      options.logger?.warn("job read failed; retrying", { error: describe(err), waitMs: wait });
      await sleep(wait);
    }
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
