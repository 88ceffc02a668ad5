import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { EntityClient } from "../flxbl/client.js";
import { FlxblRateLimitError, FlxblTimeoutError, retryAdvice } from "../flxbl/errors.js";
import type { PacingSnapshot } from "../flxbl/rate-controller.js";
import type { FlxblRecord, Where } from "../flxbl/types.js";
import { SecretUnavailableError } from "../keys/secret-loader.js";
import { RetryLaterError } from "../middleware/errors.js";
import { StateUnavailableError } from "../state/errors.js";
import type { Checkpoint, RunState, RunStore, RunTotals } from "./run-store.js";

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
 *   process: async (order) => (await orders.update(order.id, { status: "expired" }), "changed"),
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
  /**
   * The per-record work. Throwing counts the record as failed (other records go on), except
   * throttling, a busy lock or another {@link RetryLaterError}: the record is taken again later
   * in the run. It must decide from the record it is given: after a crash, records the crashed
   * invocation had started are read again by id and given to it once more.
   */
  process: (record: FlxblRecord<T>, context: RecordContext) => Promise<RecordOutcome>;
  /** Runs once, after the last page, before the checkpoint is cleared (e.g. a second phase). */
  onSweepComplete?: (totals: RunTotals) => Promise<void>;
  /** Epoch ms of the Lambda deadline. */
  deadline: number;
  /** Stop taking new records this long before the deadline. @default 5000 */
  stopMarginMs?: number;
  /**
   * How long the run is owned without a renewal. The owner renews it while it works (every third
   * of it), so when an invocation crashes the next one can take the run over within this time.
   * @default 45000
   */
  leaseMs?: number;
  /** Progress is saved at least this often while records complete (and at every page). @default 2000 */
  checkpointEveryMs?: number;
  /** @default 100 */
  pageSize?: number;
  /** Records worked on at once, at most. @default 8 */
  concurrency?: number;
  /**
   * The FLXBL key's rate controller, as the client shares it (`() => flxbl.pacing()`): the run
   * halves the records it works on at once when the controller heard 429s (which the client's
   * retries absorb, so the work never sees them), and adds one while no call waits at the paced
   * rate (the pace is starved); while calls wait there, the pace sets the speed and lanes stay.
   * @default undefined (lanes follow the 429 errors the work throws)
   */
  pacing?: () => PacingSnapshot | undefined;
  logger: Pick<Logger, "info" | "warn" | "error">;
  /** Clock in epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * A run's outcome, returned by the handler and logged as one structured line.
 *
 * @example
 * ```ts
 * const context = lambdaContext({ functionName: "expire-stale-orders", timeoutSeconds: 300 });
 * const summary: JobSummary = await job(scheduledEvent("expire-stale-orders"), context);
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
  /**
   * Records a crashed invocation had started and not saved as done, read again by id and
   * worked on by this one (counted once, with the outcome found now).
   */
  recovered: number;
  failures: Array<{ id: string; error: string }>;
  pages: number;
  throttled: number;
  /**
   * The FLXBL key's pacing at the end (with `pacing` given): the rate it was paced at and what set
   * it, the 429s its controller heard, and the records the run worked on at once by then.
   */
  pacing?: { rps: number | undefined; source: PacingSnapshot["source"]; throttled: number; lanes: number };
  durationMs: number;
}

/**
 * A run finished with failed records: thrown so Lambda's retries and failure destination apply.
 *
 * @example
 * ```ts
 * const context = lambdaContext({ functionName: "expire-stale-orders", timeoutSeconds: 300 });
 * const summary = await job(scheduledEvent("expire-stale-orders"), context).catch((err) => {
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

type Outcome = RecordOutcome | "failed";

/** One record of the page being worked on: read by the page query, or (after a crash) to be read by id. */
interface Slot<T extends object> {
  id: string;
  record?: FlxblRecord<T>;
  /** Set once the record is done (or was done by a crashed invocation, from its checkpoint). */
  outcome?: Outcome;
}

/** A page of slots, worked on together; its first unfinished slot bounds the checkpoint. */
interface Page<T extends object> {
  slots: Slot<T>[];
  fetchedAt: number;
}

const zeroTotals = (): RunTotals => ({ scanned: 0, changed: 0, unchanged: 0, failed: 0 });

/**
 * The run's lease and saved progress: renewed while records are worked on, saved at each page
 * and at most every `checkpointEveryMs` in between, so a crash loses little and the next
 * invocation can take the run over a lease later (not an invocation's whole timeout later).
 */
class Checkpointer {
  #leaseUntil: number;
  #saving: Promise<void> = Promise.resolve();
  #savedAt: number;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  /** Set when a save found another owner: the run is no longer ours. */
  lost = false;

  constructor(
    private readonly store: RunStore,
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly everyMs: number,
    private readonly now: () => number,
    private readonly snapshot: () => Checkpoint,
    private readonly warn: (message: string, attributes: Record<string, unknown>) => void,
  ) {
    this.#leaseUntil = now() + leaseMs;
    this.#savedAt = now();
  }

  /** Renews the lease (with the latest progress) on a timer until {@link stop}. */
  start(): void {
    this.#timer = setInterval(
      () => {
        if (this.#dirty || this.now() - this.#savedAt >= this.leaseMs / 3) void this.save().catch(() => undefined);
      },
      Math.max(20, Math.min(this.everyMs, Math.floor(this.leaseMs / 3))),
    );
    // The run's own awaits keep the process alive; the checkpoint timer never does on its own.
    this.#timer.unref();
  }

  /** Stops the timer and waits for a save still on its way, so nothing is written after the next write. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#saving;
  }

  /** Progress was made: the timer saves it within `everyMs`. */
  touch(): void {
    this.#dirty = true;
  }

  /** Until when the lease surely holds: work stops a margin before it when renewals fail. */
  get leaseUntil(): number {
    return this.#leaseUntil;
  }

  /** Saves the current progress now (after any save in flight), renewing the lease. */
  save(): Promise<void> {
    const next = this.#saving.then(async () => {
      if (this.lost) return;
      const at = this.now();
      this.#dirty = false;
      try {
        if (await this.store.save(this.owner, this.snapshot(), at + this.leaseMs)) {
          this.#leaseUntil = at + this.leaseMs;
          this.#savedAt = at;
        } else {
          this.lost = true;
        }
      } catch (err) {
        this.#dirty = true;
        this.warn("job checkpoint save failed; retrying", { error: describe(err) });
        throw err;
      }
    });
    this.#saving = next.catch(() => undefined);
    return next;
  }
}

/**
 * Sweeps every record matching `where` once per run: keyset paging on `id` (so the job's own
 * updates moving records out of the filter cannot make it skip any), bounded concurrency that
 * follows the key's rate controller and 429s, and a DynamoDB checkpoint when the Lambda deadline nears, resumed by the next
 * invocation. Returns the summary; throws {@link JobFailedError} when records failed.
 *
 * The run's lease is renewed while it works, so a crashed invocation's run is taken over within
 * `leaseMs`. Before a page is worked on, its ids are saved with the checkpoint; a run resumed
 * after a crash reads the page's unfinished records again by id, so none is skipped or counted
 * twice. A record whose lock is busy is taken again later in the run, not counted as failed.
 *
 * @example
 * ```ts
 * const store = new RunStore({ tableName: stateTableName(env), job: "expire-stale-orders" });
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
  const leaseMs = options.leaseMs ?? 45_000;
  const deadlineStop = options.deadline - (options.stopMarginMs ?? 5_000);
  const pageSize = options.pageSize ?? 100;
  const maxConcurrency = Math.max(1, options.concurrency ?? 8);
  const { logger, store } = options;

  const claim = await store.claim(owner, now() + leaseMs, options.params?.() ?? {});
  if (claim.kind === "busy") {
    const summary: JobSummary = {
      job: options.name,
      runId: null,
      complete: false,
      resumedFrom: null,
      checkpoint: null,
      run: zeroTotals(),
      skipped: "another invocation owns the current run",
      failures: [],
      pages: 0,
      throttled: 0,
      recovered: 0,
      ...zeroTotals(),
      durationMs: now() - started,
    };
    logger.warn("job run skipped", { ...summary });
    return summary;
  }

  const { state } = claim;
  const resumedFrom = claim.kind === "resumed" ? state.cursor : null;
  const totals = zeroTotals();
  const run = { ...state.totals };
  const failures: JobSummary["failures"] = [];
  let cursor = state.cursor;
  let current: Page<T> | undefined;
  let pages = 0;
  let throttled = 0;
  let recovered = 0;
  let limit = maxConcurrency;
  /** 429s the key's controller had heard at the last look. */
  let heard = options.pacing?.()?.throttled ?? 0;
  /**
   * Sizes the lanes by the key's rate controller, when there is one (after each record): half as
   * many when it heard new 429s (the key is held: lanes would only wait, holding their records'
   * locks), one more when no call waits at its pace (the pace is starved), the same while calls
   * wait there (the paced rate, not the lanes, sets the speed; fewer lanes would leave turns
   * unused). False without a controller.
   */
  const followPacing = (): boolean => {
    const pacing = options.pacing?.();
    if (!pacing) return false;
    // Not `>`: after a key rotation the client reports a new key's controller, counting from 0.
    const fresh = pacing.throttled !== heard;
    heard = pacing.throttled;
    if (fresh) limit = Math.max(1, Math.floor(limit / 2));
    else if (pacing.waiting === 0) limit = Math.min(maxConcurrency, limit + 1);
    return true;
  };
  let pauseUntil = 0;
  let longestPage = 0;
  let complete = false;

  /**
   * The checkpoint of the sweep as it stands: the cursor after the contiguous prefix done, the
   * page's records after it (only while it is being worked on: `ongoing`), and those of them done.
   */
  let ongoing = false;
  const snapshot = (): Checkpoint => {
    if (!current) return { cursor, totals: { ...run } };
    const { slots } = current;
    let upTo = -1;
    while (upTo + 1 < slots.length && slots[upTo + 1]?.outcome !== undefined) upTo++;
    const rest = slots.slice(upTo + 1);
    const ahead: NonNullable<Checkpoint["ahead"]> = {};
    for (const slot of rest) if (slot.outcome) ahead[slot.id] = slot.outcome;
    return {
      cursor: upTo >= 0 ? (slots[upTo] as Slot<T>).id : cursor,
      totals: { ...run },
      page: ongoing ? rest.map((slot) => slot.id) : [],
      ahead,
    };
  };
  const checkpoints = new Checkpointer(
    store,
    owner,
    leaseMs,
    options.checkpointEveryMs ?? 2_000,
    now,
    snapshot,
    (m, a) => logger.warn(m, { job: options.name, ...a }),
  );
  /** Stop taking records at the deadline, when the run was taken over, or before an unrenewed lease lapses. */
  const stopAt = () => Math.min(deadlineStop, checkpoints.leaseUntil - Math.min(5_000, leaseMs / 4));
  const mustStop = () => checkpoints.lost || now() >= stopAt();

  const count = (outcome: Outcome) => {
    totals.scanned++;
    run.scanned++;
    totals[outcome]++;
    run[outcome]++;
  };

  /** Set when the run failed: a page read still retrying gives up. */
  let abandoned = false;
  /** Reads the page after `after`; rides out throttling and outages until the stop time (then `undefined`). */
  const fetchPage = async (after: string | null): Promise<Page<T> | undefined> => {
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
        return { slots: records.map((record) => ({ id: record.id, record })), fetchedAt };
      } catch (err) {
        const advice = retryAdvice(err);
        if (!advice.retryable) throw err;
        throttled += err instanceof FlxblRateLimitError ? 1 : 0;
        const wait = Math.max(advice.afterMs ?? 0, Math.min(5_000, 200 * 2 ** attempt));
        if (abandoned || now() + wait >= stopAt()) return undefined;
        logger.warn("job page read failed; retrying", { job: options.name, error: describe(err), waitMs: wait });
        await sleep(wait);
      }
    }
  };

  /** The per-record step: a slot from a crashed run's page is read by id first. */
  const work = async (slot: Slot<T>, page: Page<T>): Promise<Outcome | undefined> => {
    let record = slot.record;
    let fetchedAt = page.fetchedAt;
    if (!record) {
      fetchedAt = now();
      record = await options.entity.find(slot.id);
      // Deleted since: nothing to do, nothing to count.
      if (!record) return undefined;
      slot.record = record;
      recovered++;
    }
    return options.process(record, { fetchedAt, params: state.params });
  };

  /** Works through one page; afterwards `cursor` is the last record done in order. Returns whether it stopped early. */
  const processPage = async (page: Page<T>): Promise<boolean> => {
    const queue = page.slots.map((_, i) => i).filter((i) => page.slots[i]?.outcome === undefined);
    const notBefore = new Map<number, number>();
    let stopped = false;
    let inFlight = 0;
    let streak = 0;
    let wake: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      const finishIfDone = () => {
        if ((stopped || queue.length === 0) && inFlight === 0) {
          clearTimeout(wake);
          resolve();
          return true;
        }
        return false;
      };
      const pump = () => {
        clearTimeout(wake);
        wake = undefined;
        while (!stopped && inFlight < limit && queue.length > 0) {
          if (mustStop()) {
            stopped = true;
            break;
          }
          const t = now();
          const ready = queue.findIndex((i) => (notBefore.get(i) ?? 0) <= t);
          const wait = Math.max(
            pauseUntil - t,
            ready < 0 ? Math.min(...queue.map((i) => notBefore.get(i) ?? 0)) - t : 0,
          );
          if (wait > 0) {
            wake = setTimeout(pump, Math.max(1, Math.min(wait, stopAt() - t)));
            return;
          }
          const i = queue.splice(ready, 1)[0] as number;
          const slot = page.slots[i] as Slot<T>;
          inFlight++;
          work(slot, page)
            .then(
              (outcome) => {
                slot.outcome = outcome ?? "unchanged";
                if (outcome) count(outcome);
                checkpoints.touch();
                if (!followPacing() && ++streak >= limit * 4 && limit < maxConcurrency) {
                  limit++;
                  streak = 0;
                }
              },
              (err: unknown) => {
                // A lost lock aborts the record's calls (a FlxblTimeoutError caused by it): like a busy lock.
                const later =
                  err instanceof RetryLaterError ||
                  err instanceof StateUnavailableError ||
                  err instanceof SecretUnavailableError ||
                  (err instanceof FlxblTimeoutError && err.cause instanceof RetryLaterError);
                if (later && now() < stopAt()) {
                  // A busy or lost lock, or a state-table or Secrets Manager hiccup: this record
                  // later, the others now.
                  const seconds = err instanceof RetryLaterError ? err.retryAfterSeconds : 1;
                  notBefore.set(i, now() + seconds * 1000);
                  queue.push(i);
                  return;
                }
                if (err instanceof FlxblRateLimitError || (err instanceof FlxblTimeoutError && now() < stopAt())) {
                  // Throttled past the client's own retries: slow down and try the record again.
                  throttled++;
                  streak = 0;
                  limit = Math.max(1, Math.floor(limit / 2));
                  const floor = err instanceof FlxblRateLimitError ? (retryAdvice(err).afterMs ?? 1000) : 1000;
                  pauseUntil = Math.max(pauseUntil, now() + floor);
                  queue.unshift(i);
                  return;
                }
                if (later || err instanceof FlxblTimeoutError) {
                  // Cut off by the deadline: not done, the next invocation takes it again.
                  stopped = true;
                  return;
                }
                slot.outcome = "failed";
                count("failed");
                checkpoints.touch();
                if (failures.length < 20) failures.push({ id: slot.id, error: describe(err) });
                logger.error("job record failed", { job: options.name, recordId: slot.id, error: err as Error });
              },
            )
            .finally(() => {
              inFlight--;
              if (!finishIfDone()) pump();
            });
        }
        finishIfDone();
      };
      pump();
    });
    let upTo = -1;
    while (upTo + 1 < page.slots.length && page.slots[upTo + 1]?.outcome !== undefined) upTo++;
    if (upTo >= 0) cursor = (page.slots[upTo] as Slot<T>).id;
    return upTo < page.slots.length - 1;
  };

  /** Starts working on a page: its ids are saved first, so a crash cannot lose a record it had started. */
  const begin = async (page: Page<T>) => {
    current = page;
    ongoing = true;
    await checkpoints.save();
    if (checkpoints.lost) throw new Error(`lost the lease of job run ${state.runId}`);
  };
  /** Records an earlier invocation saved as done after its cursor: skipped (and not counted again) when met. */
  let skip = new Map(Object.entries(state.ahead ?? {}));

  checkpoints.start();
  let next: Promise<Page<T> | undefined> | undefined;
  try {
    // A crashed invocation's page: its records not saved as done are read again by id.
    const crashed = recoveryPage<T>(state, now());
    let stoppedEarly = false;
    if (crashed) {
      skip = new Map();
      await begin(crashed);
      stoppedEarly = await processPage(crashed);
      if (!stoppedEarly) {
        cursor = crashed.slots.at(-1)?.id ?? cursor;
        current = undefined;
        ongoing = false;
      }
    }
    if (!stoppedEarly) next = fetchPage(cursor);
    while (next) {
      if (mustStop()) {
        next.catch(() => undefined);
        break;
      }
      const page = await next;
      next = undefined;
      if (!page) break;
      pages++;
      longestPage = Math.max(longestPage, page.slots.length);
      // FLXBL's page cap is undocumented: only an empty page, or one shorter than the longest, ends the sweep.
      const last = page.slots.at(-1);
      const more = page.slots.length > 0 && page.slots.length >= longestPage;
      // Read the next page while this one is worked on; keyset paging makes that safe.
      if (more && last) next = fetchPage(last.id);
      for (const slot of page.slots) slot.outcome = skip.get(slot.id);
      skip = new Map();
      if (page.slots.length > 0) await begin(page);
      // Stopped early, the page stays `ongoing` in the checkpoint: a record cut off by the deadline
      // may have been changed, so the next invocation reads the rest of the page by id.
      if (await processPage(page)) {
        next?.catch(() => undefined);
        next = undefined;
        break;
      }
      current = undefined;
      ongoing = false;
      if (!more) complete = true;
    }
    if (checkpoints.lost) throw new Error(`lost the lease of job run ${state.runId}`);
    if (complete) await options.onSweepComplete?.(run);
  } catch (err) {
    abandoned = true;
    // A page read still under way must not end as an unhandled rejection.
    next?.catch(() => undefined);
    await checkpoints.stop();
    // Keep what was done: the next invocation resumes after the last finished record.
    if (!checkpoints.lost) await store.release(owner, snapshot()).catch(() => undefined);
    throw err;
  }
  await checkpoints.stop();
  if (complete) await store.finish(owner);
  else await store.release(owner, snapshot());

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
    recovered,
    ...pacingSummary(options.pacing?.(), limit),
    durationMs: now() - started,
  };
  logger.info("job run finished", { ...summary });
  if (summary.failed > 0) throw new JobFailedError(summary);
  return summary;
}

function pacingSummary(pacing: PacingSnapshot | undefined, lanes: number): Pick<JobSummary, "pacing"> {
  return pacing ? { pacing: { rps: pacing.rps, source: pacing.source, throttled: pacing.throttled, lanes } } : {};
}

/** The page a crashed invocation was working on, with what it saved as done; undefined when none. */
function recoveryPage<T extends object>(state: RunState, now: number): Page<T> | undefined {
  const ids = state.page ?? [];
  if (ids.length === 0) return undefined;
  const ahead = state.ahead ?? {};
  return { slots: ids.map((id) => ({ id, outcome: ahead[id] })), fetchedAt: now };
}

/**
 * Calls `fn` again after transient FLXBL failures (429, 5xx, network) until it succeeds or the
 * next wait would pass `stopAt`, waiting at least `Retry-After` and backing off: for a job's reads
 * outside the sweep (which {@link runJob} already adapts), so throttling alone cannot fail a run.
 * `fn` must be safe to repeat from the start (a read).
 *
 * @example
 * ```ts
 * const alerts = context.flxbl.entity<StockAlert>("StockAlert");
 * const open = await retryTransient(() => alerts.query({ where: { status: "open" }, limit: 500 }), { stopAt: Date.now() + 10_000, logger });
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
      const advice = retryAdvice(err);
      if (!advice.retryable) throw err;
      const wait = Math.max(advice.afterMs ?? 0, Math.min(5_000, 200 * 2 ** attempt));
      if (now() + wait >= options.stopAt) throw err;
      options.logger?.warn("job read failed; retrying", { error: describe(err), waitMs: wait });
      await sleep(wait);
    }
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
