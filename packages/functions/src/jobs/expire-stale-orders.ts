import { flxblHandler, KeyedLock, RunStore, readFunctionEnv, runJob, stateTableName } from "@flxbl-lambda/core";
import { parseDuration } from "../domain/duration.js";
import { expireOrder, staleOrders } from "../domain/expiry.js";
import { expireStaleOrders as spec } from "../manifest.js";
import type { Order } from "../types.js";
import { stopMarginFor } from "./margin.js";

const env = readFunctionEnv(process.env);
const maxAgeMs = readMaxAge(process.env.PENDING_ORDER_MAX_AGE);
const tableName = stateTableName(env);
const lock = new KeyedLock({ tableName, namespaces: spec.locks });
const store = new RunStore({ tableName, job: spec.name });

/**
 * Every 15 minutes: pending orders older than `PENDING_ORDER_MAX_AGE` (ISO 8601, default PT24H)
 * become `expired`. Accepts the EventBridge Scheduled Event or any on-demand event; returns the
 * run summary.
 */
export const handler = flxblHandler({ spec, env }, async (_event: unknown, context) => {
  const orders = context.flxbl.entity<Order>("Order");
  const remaining = context.getRemainingTimeInMillis();
  return runJob({
    name: spec.name,
    store,
    entity: orders,
    logger: context.logger,
    params: () => ({ cutoff: new Date(Date.now() - maxAgeMs).toISOString() }),
    where: (params) => staleOrders(params.cutoff as string),
    process: (order, ctx) =>
      expireOrder(orders, lock, order, {
        ...ctx,
        cutoff: ctx.params.cutoff as string,
        now: () => new Date(),
        logger: context.logger,
      }),
    deadline: Date.now() + remaining,
    stopMarginMs: stopMarginFor(remaining),
  });
});

function readMaxAge(value: string | undefined): number {
  try {
    return parseDuration(value ?? "PT24H");
  } catch (err) {
    throw new Error(`PENDING_ORDER_MAX_AGE: ${(err as Error).message}`);
  }
}
