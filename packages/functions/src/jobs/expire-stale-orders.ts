import { jobHandler } from "@flxbl-lambda/core/jobs";
import { readFunctionEnv } from "@flxbl-lambda/core/lambda";
import { parseDuration } from "../domain/duration.js";
import { expireOrder, staleOrders } from "../domain/expiry.js";
import { expireStaleOrders as spec } from "../manifest.js";
import type { Order } from "../types.js";

const maxAgeMs = readMaxAge(process.env.PENDING_ORDER_MAX_AGE);

/**
 * Every 15 minutes: pending orders older than `PENDING_ORDER_MAX_AGE` (ISO 8601, from its manifest
 * entry) become `expired`, each under the order's lock, which the payments webhook shares.
 */
export const handler = jobHandler<Order>({
  spec,
  env: readFunctionEnv(process.env),
  entity: "Order",
  params: () => ({ cutoff: new Date(Date.now() - maxAgeMs).toISOString() }),
  where: (params) => staleOrders(params.cutoff as string),
  process: (order, context) =>
    expireOrder(context.records, context.lock, order, {
      ...context,
      cutoff: context.params.cutoff as string,
      now: () => new Date(),
    }),
});

function readMaxAge(value: string | undefined): number {
  if (!value) throw new Error("PENDING_ORDER_MAX_AGE is not set (its manifest entry's environment sets it)");
  try {
    return parseDuration(value);
  } catch (err) {
    throw new Error(`PENDING_ORDER_MAX_AGE: ${(err as Error).message}`);
  }
}
