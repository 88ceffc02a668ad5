import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { Webhook } from "standardwebhooks";
import Stripe from "stripe";

/**
 * What the runtime tests send and read: FLXBL as its admin, and webhook deliveries signed by the
 * senders' own libraries (`stripe`, `standardwebhooks`), so a passing test means a real sender's
 * request would pass too.
 */

const stripe = new Stripe("sk_test_not_used_for_api_calls");

/** A record as FLXBL returns it. */
export type Stored<T> = T & { id: string; createdAt: string; updatedAt: string };

/** A FLXBL admin client: `request(method, path, body)` answers the parsed JSON or throws with the status. */
export function flxblAdmin(flxbl: { url: string; adminKey: string }) {
  const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${flxbl.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${flxbl.adminKey}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`FLXBL ${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return {
    request,
    /** Every record of an entity matching `where` (the app's data sets are small). */
    query: <T>(entity: string, where: Record<string, unknown> = {}) =>
      request<Stored<T>[]>("POST", `/dynamic/${entity}/query`, { where, limit: 1000 }),
    get: <T>(entity: string, id: string) => request<Stored<T>>("GET", `/dynamic/${entity}/${id}`),
    create: <T>(entity: string, body: T) => request<Stored<T>>("POST", `/dynamic/${entity}`, body),
  };
}

/** A Stripe `payment_intent.succeeded` event for an order, as Stripe sends it. */
export function paymentSucceeded(order: { id: string; total: number; currency: string }) {
  const paymentIntentId = `pi_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
  const event = {
    id: `evt_${randomUUID().replaceAll("-", "")}`,
    object: "event",
    api_version: "2024-06-20",
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "payment_intent.succeeded",
    data: {
      object: {
        id: paymentIntentId,
        object: "payment_intent",
        amount: order.total,
        currency: order.currency,
        status: "succeeded",
        metadata: { orderId: order.id },
        last_payment_error: null,
      },
    },
  };
  return { eventId: event.id, paymentIntentId, body: JSON.stringify(event) };
}

/** The request headers Stripe sends with `body`, signed by the `stripe` package. */
export function stripeHeaders(body: string, secret: string): Record<string, string> {
  return {
    "content-type": "application/json",
    "stripe-signature": stripe.webhooks.generateTestHeaderString({ payload: body, secret }),
  };
}

/** A Standard Webhooks `inventory.updated` delivery: its message id, body and timestamp. */
export function inventoryUpdated(data: { sku: string; quantity: number; version: number }) {
  const timestamp = new Date().toISOString();
  return { id: `msg_${randomUUID()}`, timestamp, body: JSON.stringify({ type: "inventory.updated", timestamp, data }) };
}

/** The request headers a Standard Webhooks sender sends, signed by the `standardwebhooks` package. */
export function standardWebhookHeaders(id: string, body: string, secret: string): Record<string, string> {
  const now = new Date();
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, now, body),
  };
}

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null) throw new Error("no port from the probe server");
  return address.port;
}
