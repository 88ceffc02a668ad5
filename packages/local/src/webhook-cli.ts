import { randomUUID } from "node:crypto";
import { signStandardWebhook, signStripePayload } from "@flxbl-lambda/core";
import { readRuntimeInfo } from "./runtime-info.js";

/** The fields of a FLXBL Order the sample events need. */
interface OrderRecord {
  id: string;
  total: number;
  currency: string;
  paymentReference?: string | null;
}

const usage = `usage:
  npm run webhook -- payments-webhook <payment_intent.succeeded|payment_intent.payment_failed|charge.refunded> [orderId]
  npm run webhook -- inventory-webhook inventory.updated [sku] [quantity] [version]

Sends a correctly signed sample event to the running npm start. Without an orderId it uses the
first pending order; without a version it uses the current time in milliseconds.`;

async function main() {
  const [fn, type, ...rest] = process.argv.slice(2);
  const info = readRuntimeInfo();
  const target = fn ? info.functions[fn] : undefined;
  if (!fn || !type || !target?.url || !target.signingSecrets?.[0]) throw new Error(usage);
  const secret = target.signingSecrets[0];
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${info.flxbl.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${info.flxbl.adminKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return res.json() as Promise<OrderRecord & OrderRecord[]>;
  };

  let body: string;
  let headers: Record<string, string>;
  if (fn === "payments-webhook") {
    const order = rest[0]
      ? await admin("GET", `/dynamic/Order/${rest[0]}`)
      : (await admin("POST", "/dynamic/Order/query", { where: { status: "pending" }, limit: 1 }))[0];
    if (!order?.id) throw new Error("no order to pay: give an orderId, or create a pending order");
    const pi = `pi_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
    const object =
      type === "charge.refunded"
        ? {
            id: `ch_${randomUUID().replaceAll("-", "").slice(0, 24)}`,
            object: "charge",
            amount: order.total,
            amount_refunded: order.total,
            currency: order.currency,
            refunded: true,
            payment_intent: order.paymentReference ?? pi,
            metadata: { orderId: order.id },
          }
        : {
            id: pi,
            object: "payment_intent",
            amount: order.total,
            currency: order.currency,
            metadata: { orderId: order.id },
            last_payment_error:
              type === "payment_intent.payment_failed" ? { message: "Your card was declined." } : null,
          };
    const event = {
      id: `evt_${randomUUID().replaceAll("-", "")}`,
      object: "event",
      type,
      created: Math.floor(Date.now() / 1000),
      data: { object },
    };
    body = JSON.stringify(event);
    headers = { "stripe-signature": signStripePayload(body, secret) };
  } else {
    const [sku = "TEE-WHT-L", quantity = "25", version = String(Date.now())] = rest;
    body = JSON.stringify({
      type,
      timestamp: new Date().toISOString(),
      data: { sku, quantity: Number(quantity), version: Number(version) },
    });
    headers = signStandardWebhook(`msg_${randomUUID()}`, body, secret);
  }
  const res = await fetch(target.url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  console.log(`${res.status} ${await res.text()}`);
  if (!res.ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(2);
});
