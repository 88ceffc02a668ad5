import type { RecordContext, RecordOutcome } from "@flxbl-lambda/core/jobs";
import type { EntityClient, ErrorLogger, FlxblRecord, Where } from "@flxbl-lambda/core/lambda";
import type { RecordLock } from "@flxbl-lambda/core/state";
import type { Order } from "../types.js";

/** The orders a run expires: pending, created before the run's cutoff. */
export function staleOrders(cutoffIso: string): Where<Order> {
  return { status: "pending", createdAt: { $lt: cutoffIso } };
}

/** The invariant that no order is `expired` while it holds a payment: broken only by a write racing the lock. */
export const expiredWithPayment = "order-expired-with-payment";

/**
 * Expires one stale order under the order's lock (the payments webhook takes the same lock), so
 * a payment landing at the same moment is never overwritten. The order is read again only when
 * someone held its lock since the page was read. Every call carries the lock's signal, so none
 * outlives its lease.
 *
 * Should the write's answer show a payment on the order anyway (something wrote it without the
 * lock), the order is put back to what the payment made it, and the violation is logged at
 * ERROR with `invariantViolation` (the Jobs stack alarms on it).
 */
export async function expireOrder(
  orders: EntityClient<Order>,
  lock: RecordLock,
  order: FlxblRecord<Order>,
  context: RecordContext & { cutoff: string; now: () => Date; logger: Pick<ErrorLogger, "error"> },
): Promise<RecordOutcome> {
  return lock.run(`order#${order.id}`, async (hold) => {
    const current =
      hold.lastReleasedAt !== undefined && hold.lastReleasedAt >= context.fetchedAt
        ? await orders.find(order.id, hold.callOptions)
        : order;
    if (
      current?.status !== "pending" ||
      current.paymentReference ||
      Date.parse(current.createdAt) >= Date.parse(context.cutoff)
    )
      return "unchanged";
    hold.assertHeld();
    const updated = await orders.update(
      order.id,
      { status: "expired", expiredAt: context.now().toISOString() },
      hold.callOptions,
    );
    if (updated.paymentReference) {
      const restored = updated.refundedAt ? "refunded" : "paid";
      context.logger.error("an order was expired while holding a payment; restored", {
        invariantViolation: expiredWithPayment,
        orderId: order.id,
        restored,
      });
      await orders.update(order.id, { status: restored, expiredAt: null }, hold.callOptions);
    }
    return "changed";
  });
}
