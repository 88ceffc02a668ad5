import type { EntityClient, FlxblRecord, KeyedLock } from "@flxbl-lambda/core";
import {
  type Charge,
  chargeSchema,
  type PaymentIntent,
  parsePayload,
  paymentIntentSchema,
  type StripeEvent,
} from "../events.js";
import type { Order } from "../types.js";

/** What applying one event did. `unchanged` and `ignored` are final answers too (2xx). */
export interface EventOutcome {
  status: "applied" | "unchanged" | "ignored";
  reason?: string;
  orderId?: string;
  from?: string;
  to?: string;
}

/** The Stripe event types this app acts on; any other type is acknowledged and ignored. */
export const handledPaymentEvents = [
  "payment_intent.succeeded",
  "payment_intent.payment_failed",
  "charge.refunded",
] as const;

type Decision = { patch: Partial<Order>; reason?: string } | { unchanged: string };

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

/**
 * The order state machine. Orders only move forward: pending (or expired) -> paid -> refunded.
 * A late `succeeded` never undoes a refund; a repeated event changes nothing.
 */
export function decidePayment(order: FlxblRecord<Order>, event: StripeEvent): Decision {
  switch (event.type) {
    case "payment_intent.succeeded": {
      const pi = event.data.object as PaymentIntent;
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
      const pi = event.data.object as PaymentIntent;
      if (order.status !== "pending")
        return { unchanged: `order is ${order.status}; a failed attempt changes nothing` };
      const message = pi.last_payment_error?.message ?? pi.last_payment_error?.code ?? "payment failed";
      if (order.lastPaymentError === message) return { unchanged: "failure already recorded" };
      return { patch: { lastPaymentError: message } };
    }
    case "charge.refunded": {
      const charge = event.data.object as Charge;
      if (!charge.refunded) return { unchanged: "partial refund; the order stays as it is" };
      if (order.status === "refunded") return { unchanged: "already refunded" };
      return {
        patch: {
          status: "refunded",
          refundedAt: iso(event.created),
          paymentReference: order.paymentReference ?? charge.payment_intent ?? charge.id,
        },
      };
    }
    default:
      return { unchanged: `unhandled event type ${event.type}` };
  }
}

/**
 * Applies a verified Stripe event to its order (`data.object.metadata.orderId`), holding the
 * order's lock across read, decide and write so concurrent events cannot overwrite each other.
 */
export async function applyPaymentEvent(
  orders: EntityClient<Order>,
  lock: KeyedLock,
  event: StripeEvent,
): Promise<EventOutcome> {
  if (!(handledPaymentEvents as readonly string[]).includes(event.type))
    return { status: "ignored", reason: `event type ${event.type} is not handled` };
  const object =
    event.type === "charge.refunded"
      ? parsePayload(chargeSchema, event.data.object, `${event.type} data.object`)
      : parsePayload(paymentIntentSchema, event.data.object, `${event.type} data.object`);
  const orderId = object.metadata.orderId;
  return lock.run(`order#${orderId}`, async () => {
    const order = await orders.find(orderId);
    if (!order) return { status: "ignored", reason: "order not found", orderId };
    const decision = decidePayment(order, { ...event, data: { ...event.data, object } });
    if ("unchanged" in decision)
      return { status: "unchanged", reason: decision.unchanged, orderId, from: order.status };
    const updated = await orders.update(orderId, decision.patch);
    return { status: "applied", orderId, from: order.status, to: updated.status };
  });
}
