import { type EntityClient, type FlxblRecord, RetryLaterError } from "@flxbl-lambda/core/lambda";
import type { RecordLock } from "@flxbl-lambda/core/state";
import type { PaymentEvent } from "../events.js";
import type { Order } from "../types.js";

/** What applying one event did. `unchanged` and `ignored` are final answers too (2xx). */
export interface EventOutcome {
  status: "applied" | "unchanged" | "ignored";
  reason?: string;
  orderId?: string;
  from?: string;
  to?: string;
}

type Decision = { patch: Partial<Order>; reason?: string } | { unchanged: string } | { later: string };

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

/** `Retry-After` of a refund that arrived before its payment (Stripe retries on its own schedule anyway). */
const refundRetrySeconds = 30;

/**
 * The order state machine. Orders only move forward: pending (or expired) -> paid -> refunded.
 * A late `succeeded` never undoes a refund; a repeated event changes nothing. A full refund
 * applies only to the payment recorded on the order (`paymentReference`), for the order's
 * amount; one that arrives before that payment is recorded is answered "retry later".
 */
export function decidePayment(order: FlxblRecord<Order>, event: PaymentEvent): Decision {
  switch (event.type) {
    case "payment_intent.succeeded": {
      const pi = event.data.object;
      if (order.status === "refunded") return { unchanged: "order already refunded; a late success never undoes it" };
      if (order.status === "cancelled") return { unchanged: "order is cancelled" };
      if (order.status === "paid")
        return {
          unchanged:
            order.paymentReference === pi.id ? "already paid by this payment" : "already paid by another payment",
        };
      if (pi.amount !== order.total || pi.currency.toLowerCase() !== order.currency.toLowerCase())
        return {
          unchanged: `amount ${pi.amount} ${pi.currency} does not match the order's ${order.total} ${order.currency}`,
        };
      return {
        patch: { status: "paid", paymentReference: pi.id, paidAt: iso(event.created), lastPaymentError: null },
      };
    }
    case "payment_intent.payment_failed": {
      const pi = event.data.object;
      if (order.status !== "pending")
        return { unchanged: `order is ${order.status}; a failed attempt changes nothing` };
      const message = pi.last_payment_error?.message ?? pi.last_payment_error?.code ?? "payment failed";
      if (order.lastPaymentError === message) return { unchanged: "failure already recorded" };
      return { patch: { lastPaymentError: message } };
    }
    case "charge.refunded": {
      const charge = event.data.object;
      if (!charge.refunded) return { unchanged: "partial refund; the order stays as it is" };
      if (order.status === "refunded") return { unchanged: "already refunded" };
      // metadata.orderId alone is not proof: only a refund of the payment recorded on the order,
      // for the order's amount, refunds it.
      if (!order.paymentReference && (order.status === "pending" || order.status === "expired"))
        // Stripe does not order its deliveries: the payment's own event may not have arrived yet.
        return { later: "the order has no payment recorded yet; the refund is retried after it" };
      if (!order.paymentReference || charge.payment_intent !== order.paymentReference)
        return { unchanged: "the refunded charge is not the payment recorded on this order" };
      if (charge.amount !== order.total || charge.currency.toLowerCase() !== order.currency.toLowerCase())
        return {
          unchanged: `refunded amount ${charge.amount} ${charge.currency} does not match the order's ${order.total} ${order.currency}`,
        };
      return { patch: { status: "refunded", refundedAt: iso(event.created) } };
    }
  }
}

/** Where an event is applied: production takes live events only. */
export interface PaymentSettings {
  /** Ignore Stripe test-mode events (`livemode: false`): true in the `prod` stage. */
  liveOnly: boolean;
}

/**
 * The lock key of the order a Stripe event changes (`order#<data.object.metadata.orderId>`), read
 * from the verified payload before it is validated; undefined when it names no order. The
 * payments webhook takes this lock with the event's idempotency record (its `lockKey`).
 */
export function paymentLockKey(webhook: { payload: Record<string, unknown> }): string | undefined {
  const data = webhook.payload?.data as { object?: { metadata?: { orderId?: unknown } } } | undefined;
  const orderId = data?.object?.metadata?.orderId;
  return typeof orderId === "string" && orderId !== "" ? orderLockKey(orderId) : undefined;
}

const orderLockKey = (orderId: string) => `order#${orderId}`;

/**
 * Applies a verified, validated Stripe event to its order (`data.object.metadata.orderId`),
 * holding the order's lock across read, decide and write so concurrent events cannot overwrite
 * each other. Every FLXBL call under the lock carries the lock's options, so none outlives it.
 */
export async function applyPaymentEvent(
  orders: EntityClient<Order>,
  lock: RecordLock,
  event: PaymentEvent,
  settings: PaymentSettings = { liveOnly: false },
): Promise<EventOutcome> {
  if (settings.liveOnly && event.livemode === false)
    return { status: "ignored", reason: "a test-mode event (livemode: false) in production" };
  const orderId = event.data.object.metadata.orderId;
  return lock.run(orderLockKey(orderId), async (hold) => {
    const order = await orders.find(orderId, hold.callOptions);
    if (!order) return { status: "ignored", reason: "order not found", orderId };
    const decision = decidePayment(order, event);
    if ("later" in decision) throw new RetryLaterError(`order ${orderId}: ${decision.later}`, refundRetrySeconds);
    if ("unchanged" in decision)
      return { status: "unchanged", reason: decision.unchanged, orderId, from: order.status };
    hold.assertHeld();
    const updated = await orders.update(orderId, decision.patch, hold.callOptions);
    return { status: "applied", orderId, from: order.status, to: updated.status };
  });
}
