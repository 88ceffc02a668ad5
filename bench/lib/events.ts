import { randomUUID } from "node:crypto";
import { httpApiEvent, signStandardWebhook, signStripePayload } from "@flxbl-lambda/core";
import { inventoryWebhook, paymentsWebhook } from "@flxbl-lambda/functions";
import type { APIGatewayProxyEventV2 } from "aws-lambda";

const hex = () => randomUUID().replaceAll("-", "");

/** A Stripe `payment_intent.succeeded` for an order, as its raw body and signature header. */
export function stripeSucceeded(order: { id: string; total: number; currency: string }, secret: string) {
  const body = JSON.stringify({
    id: `evt_${hex()}`,
    object: "event",
    type: "payment_intent.succeeded",
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: `pi_${hex().slice(0, 24)}`,
        object: "payment_intent",
        amount: order.total,
        currency: order.currency,
        metadata: { orderId: order.id },
        last_payment_error: null,
      },
    },
  });
  return { body, headers: { "content-type": "application/json", "stripe-signature": signStripePayload(body, secret) } };
}

/** The API Gateway event of a signed Stripe delivery to the payments webhook. */
export function paymentsEvent(
  order: { id: string; total: number; currency: string },
  secret: string,
): APIGatewayProxyEventV2 {
  const { body, headers } = stripeSucceeded(order, secret);
  return httpApiEvent({ method: "POST", path: paymentsWebhook.trigger.path, headers, body });
}

/** The API Gateway event of a signed `inventory.updated` delivery to the inventory webhook. */
export function inventoryEvent(sku: string, quantity: number, secret: string): APIGatewayProxyEventV2 {
  const body = JSON.stringify({
    type: "inventory.updated",
    timestamp: new Date().toISOString(),
    data: { sku, quantity, version: Date.now() },
  });
  const headers = { "content-type": "application/json", ...signStandardWebhook(`msg_${hex()}`, body, secret) };
  return httpApiEvent({ method: "POST", path: inventoryWebhook.trigger.path, headers, body });
}
