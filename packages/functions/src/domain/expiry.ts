import type { EntityClient, FlxblRecord, KeyedLock, RecordContext, RecordOutcome, Where } from "@flxbl-lambda/core";
import type { Order } from "../types.js";

/** The orders a run expires: pending, created before the run's cutoff. */
export function staleOrders(cutoffIso: string): Where<Order> {
  return { status: "pending", createdAt: { $lt: cutoffIso } };
}

/**
 * Expires one stale order under the order's lock (the payments webhook takes the same lock), so
 * a payment landing at the same moment is never overwritten. The order is read again only when
 * someone held its lock since the page was read.
 */
export async function expireOrder(
  orders: EntityClient<Order>,
  lock: KeyedLock,
  order: FlxblRecord<Order>,
  context: RecordContext & { cutoff: string; now: () => Date },
): Promise<RecordOutcome> {
  return lock.run(`order#${order.id}`, async ({ lastReleasedAt }) => {
    const current =
      lastReleasedAt !== undefined && lastReleasedAt >= context.fetchedAt ? await orders.find(order.id) : order;
    if (current?.status !== "pending" || Date.parse(current.createdAt) >= Date.parse(context.cutoff))
      return "unchanged";
    await orders.update(order.id, { status: "expired", expiredAt: context.now().toISOString() });
    return "changed";
  });
}
