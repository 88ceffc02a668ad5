import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { MiddyfiedHandler } from "@middy/core";
import type { Context } from "aws-lambda";
import { stateTableName } from "../env.js";
import type { EntityClient, FlxblClient } from "../flxbl/client.js";
import type { FlxblRecord, Where } from "../flxbl/types.js";
import { defaultTimeoutEarlyMs, type FlxblHandlerOptions, flxblHandler, type HandlerContext } from "../lambda.js";
import { functionLock } from "../state/function-lock.js";
import { jobOutcome } from "./outcome.js";
import { RunStore, type RunTotals } from "./run-store.js";
import { type JobSummary, type RecordContext, type RecordOutcome, retryTransient, runJob } from "./runner.js";

/**
 * How long before the deadline a job stops taking new records: middy's early timeout, plus a
 * tenth of the invocation's time (1 to 10 seconds) for the records in flight and the checkpoint.
 *
 * @example
 * ```ts
 * stopMarginFor(300_000); // 11000: 1 s early timeout + 10 s
 * stopMarginFor(30_000, 5_000); // 8000: a 5-s early timeout + 3 s
 * ```
 */
export function stopMarginFor(remainingMs: number, timeoutEarlyMs = defaultTimeoutEarlyMs): number {
  return timeoutEarlyMs + Math.min(10_000, Math.max(1_000, Math.round(remainingMs / 10)));
}

/**
 * What a job's steps know of the invocation: {@link HandlerContext} (the client, the logger, the
 * lock) and the time the run must stop by.
 *
 * @example
 * ```ts
 * const prepare = async (context: JobContext) =>
 *   context.flxbl.entity<StockAlert>("StockAlert").query({ where: { status: "open" }, limit: 500 });
 * ```
 */
export interface JobContext extends HandlerContext {
  /** Epoch ms by which the run stops taking records (the deadline less the stop margin). */
  stopAt: number;
}

/**
 * What the per-record step of a {@link jobHandler} gets besides the record.
 *
 * @example
 * ```ts
 * const process = async (order: FlxblRecord<Order>, { records, lock }: JobRecordContext<Order>) =>
 *   lock.run(`order#${order.id}`, async (hold) => {
 *     await records.update(order.id, { status: "expired" }, hold.callOptions);
 *     return "changed" as const;
 *   });
 * ```
 */
export interface JobRecordContext<T extends object, P = undefined> extends RecordContext {
  /** The swept entity's client, bound to this invocation. */
  records: EntityClient<T>;
  flxbl: FlxblClient;
  logger: HandlerContext["logger"];
  lock: HandlerContext["lock"];
  /** What `prepare` returned. */
  prepared: P;
}

/**
 * Options of {@link jobHandler}: the function's and the sweep's.
 *
 * @example
 * ```ts
 * const options: JobHandlerOptions<Order> = {
 *   spec: expireStaleOrders, env, entity: "Order",
 *   where: () => ({ status: "pending" }),
 *   process: async () => "unchanged",
 * };
 * ```
 */
export interface JobHandlerOptions<T extends object, P = undefined> extends FlxblHandlerOptions {
  spec: { name: string; scopes: readonly string[]; locks?: readonly string[]; rateLimit?: { rps: number } };
  /** The FLXBL entity the job sweeps (`Order`). */
  entity: string;
  /** Which records a run visits; may use the run's params. */
  where: (params: Record<string, string>) => Where<T>;
  /** Values fixed for a whole run (over every invocation it takes), e.g. a cutoff time. */
  params?: () => Record<string, string>;
  /**
   * Reads once per invocation before the sweep (its FLXBL calls retried through throttling and
   * outages until the stop time); the result reaches every record as `prepared`.
   */
  prepare?: (context: JobContext) => Promise<P>;
  /** The per-record step: decide from the record given, change it, say what it did. */
  process: (record: FlxblRecord<T>, context: JobRecordContext<T, P>) => Promise<RecordOutcome>;
  /** Runs once after the last page of a run. */
  onSweepComplete?: (context: JobContext & { prepared: P; totals: RunTotals }) => Promise<void>;
  /** @default 100 */
  pageSize?: number;
  /** @default 8 */
  concurrency?: number;
  /** @default 45000 */
  leaseMs?: number;
  /** @default {@link stopMarginFor} the invocation's time and `timeoutEarlyInMillis` */
  stopMarginMs?: number;
  /** The run's checkpoint store (tests). @default the state table's `job#<name>` item */
  store?: RunStore;
}

/**
 * A scheduled job over one FLXBL entity: {@link flxblHandler}'s stack around {@link runJob},
 * with the deadline, the stop margin, the checkpoint store and the summary wired in, so a job is
 * its query and its per-record step. Returns the run's summary; a run with failed records
 * throws `JobFailedError` (Lambda retries, then the failure queue).
 *
 * @example
 * ```ts
 * export const handler = jobHandler<Product>({
 *   spec: { name: "deactivate-sold-out", scopes: ["entity:Product:read", "entity:Product:update"] },
 *   env: readFunctionEnv(process.env),
 *   entity: "Product",
 *   where: () => ({ active: true, stock: 0 }),
 *   process: async (product, { records }) => {
 *     await records.update(product.id, { active: false });
 *     return "changed";
 *   },
 * });
 * ```
 */
export function jobHandler<T extends object, P = undefined>(
  options: JobHandlerOptions<T, P>,
): MiddyfiedHandler<unknown, JobSummary, Error, Context> {
  const store =
    options.store ??
    new RunStore({
      tableName: stateTableName(options.env),
      job: options.spec.name,
      client: options.dynamodb && DynamoDBDocumentClient.from(options.dynamodb),
    });
  return flxblHandler<unknown, JobSummary>(
    { ...options, lock: options.lock ?? functionLock(options), outcome: options.outcome ?? jobOutcome },
    async (_event, context) => {
      const remaining = context.getRemainingTimeInMillis();
      const deadline = Date.now() + remaining;
      const stopMarginMs =
        options.stopMarginMs ?? stopMarginFor(remaining, options.timeoutEarlyInMillis ?? defaultTimeoutEarlyMs);
      const jobContext: JobContext = Object.assign(context, { stopAt: deadline - stopMarginMs });
      const prepared = (
        options.prepare
          ? await retryTransient(() => options.prepare?.(jobContext) as Promise<P>, {
              stopAt: jobContext.stopAt,
              logger: context.logger,
            })
          : undefined
      ) as P;
      const records = context.flxbl.entity<T>(options.entity);
      return runJob<T>({
        name: options.spec.name,
        store,
        entity: records,
        where: options.where,
        params: options.params,
        process: (record, recordContext) =>
          options.process(record, {
            ...recordContext,
            records,
            flxbl: context.flxbl,
            logger: context.logger,
            lock: context.lock,
            prepared,
          }),
        onSweepComplete: options.onSweepComplete
          ? (totals) =>
              (options.onSweepComplete as NonNullable<typeof options.onSweepComplete>)({
                ...jobContext,
                prepared,
                totals,
              })
          : undefined,
        deadline,
        stopMarginMs,
        pageSize: options.pageSize,
        concurrency: options.concurrency,
        pacing: () => context.flxbl.pacing(),
        leaseMs: options.leaseMs,
        logger: context.logger,
      });
    },
  );
}
