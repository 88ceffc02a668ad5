import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { signatureScheme } from "@flxbl-lambda/core";
// The app's manifest registers its own signature schemes (the files it imports), as npm start does.
import "@flxbl-lambda/functions";
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
  npm run webhook -- <any webhook> <event type> [JSON data]
  ... --id <event id>      send it under this event id (again: the stored answer comes back)

Sends a sample event to the running npm start, signed the way the function's sender signs
(its manifest entry's signature scheme). Without an orderId it uses the first pending order;
without a version, the current time in milliseconds; for other webhooks, the JSON data given
(default {}) as the event's data. Each event gets a new id unless --id gives one.`;

async function main() {
  let args: ReturnType<typeof parseCommandLine>;
  try {
    args = parseCommandLine();
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${usage}`);
  }
  const [fn, type, ...rest] = args.positionals;
  const info = readRuntimeInfo();
  const target = fn ? info.functions[fn] : undefined;
  if (!fn || !type || !target?.url || !target.signature || !target.signingSecrets?.[0]) {
    const webhooks = Object.entries(info.functions).filter(([, f]) => f.url);
    throw new Error(`${usage}\n\nwebhooks: ${webhooks.map(([name, f]) => `${name} (${f.signature})`).join(", ")}`);
  }
  const secret = target.signingSecrets[0];
  const scheme = signatureScheme(target.signature);
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${info.flxbl.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${info.flxbl.adminKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return res.json() as Promise<OrderRecord & OrderRecord[]>;
  };

  let data: Record<string, unknown>;
  if (fn === "payments-webhook") {
    const order = rest[0]
      ? await admin("GET", `/dynamic/Order/${rest[0]}`)
      : (await admin("POST", "/dynamic/Order/query", { where: { status: "pending" }, limit: 1 }))[0];
    if (!order?.id) throw new Error("no order to pay: give an orderId, or create a pending order");
    const pi = `pi_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
    data =
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
  } else if (fn === "inventory-webhook") {
    const [sku = "TEE-WHT-L", quantity = "25", version = String(Date.now())] = rest;
    data = { sku, quantity: Number(quantity), version: Number(version) };
  } else {
    try {
      data = JSON.parse(rest[0] ?? "{}") as Record<string, unknown>;
    } catch {
      throw new Error(`The event data must be JSON, e.g. '{"action":"opened"}'\n${usage}`);
    }
  }
  const id = args.values.id ?? randomUUID();
  const body = JSON.stringify(scheme.sampleBody(type, id, data));
  const headers = scheme.sign(body, secret, { id, type, timestampSeconds: Math.floor(Date.now() / 1000) });
  const res = await fetch(target.url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  console.log(`${res.status} ${await res.text()}`);
  if (!res.ok) process.exitCode = 1;
}

function parseCommandLine() {
  return parseArgs({ args: process.argv.slice(2), options: { id: { type: "string" } }, allowPositionals: true });
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(2);
});
