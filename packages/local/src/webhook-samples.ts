import { randomUUID } from "node:crypto";
import { signatureScheme } from "@flxbl-lambda/core";
import { CliError, request } from "./cli-kit.js";
import type { RuntimeInfo } from "./runtime.js";
import { gateway } from "./runtime-info.js";

/**
 * The sample events `npm run webhook` and the console send: event data a handler of the app
 * accepts (an order to pay or refund, a stock update), signed as the function's sender signs.
 */

/** The fields of a FLXBL Order the sample events need. */
interface OrderRecord {
  id: string;
  total: number;
  currency: string;
  paymentReference?: string | null;
}

/** The event types each of the app's webhooks has a sample for; any other webhook takes any type and JSON data. */
export const sampleEventTypes: Readonly<Record<string, readonly string[]>> = {
  "payments-webhook": ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"],
  "inventory-webhook": ["inventory.updated"],
};

/** A signed delivery, ready to POST: the exact body and the headers that go with it. */
export interface SignedSample {
  id: string;
  body: string;
  headers: Record<string, string>;
}

/**
 * The `data` of a sample event of `type` for webhook `fn`: for `payments-webhook`, an order
 * (`args[0]`, or a new pending one, or the last paid one for `charge.refunded`); for
 * `inventory-webhook`, `[sku, quantity, version]`; otherwise `args[0]` parsed as JSON.
 * `note` hears what was done on the way (the order it created).
 */
export async function sampleEventData(
  info: Pick<RuntimeInfo, "flxbl" | "emulator">,
  fn: string,
  type: string,
  args: readonly string[],
  note: (line: string) => void = () => undefined,
): Promise<Record<string, unknown>> {
  if (fn === "payments-webhook") return paymentData(info, type, args[0], note);
  if (fn === "inventory-webhook") {
    const [sku = "TEE-WHT-L", quantity = "25", version = String(Date.now())] = args;
    return { sku, quantity: Number(quantity), version: Number(version) };
  }
  try {
    return JSON.parse(args[0] ?? "{}") as Record<string, unknown>;
  } catch {
    throw new CliError(`The event data must be JSON, e.g. '{"action":"opened"}'`, 2);
  }
}

/** Signs a sample event of `type` carrying `data` with the webhook's first signing secret. */
export function signSample(
  target: { signature: string; signingSecret: string },
  type: string,
  data: Record<string, unknown>,
  id: string = randomUUID(),
): SignedSample {
  const scheme = signatureScheme(target.signature);
  const body = JSON.stringify(scheme.sampleBody(type, id, data));
  const signed = scheme.sign(body, target.signingSecret, { id, type, timestampSeconds: Math.floor(Date.now() / 1000) });
  return { id, body, headers: { "content-type": "application/json", ...signed } };
}

async function paymentData(
  info: Pick<RuntimeInfo, "flxbl" | "emulator">,
  type: string,
  orderId: string | undefined,
  note: (line: string) => void,
): Promise<Record<string, unknown>> {
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await request(
      `${info.flxbl.url}${path}`,
      {
        method,
        headers: { authorization: `Bearer ${info.flxbl.adminKey}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      { what: "the FLXBL npm start uses", fix: gateway.fix },
    );
    if (res.status === 404) return undefined;
    if (!res.ok) throw new CliError(`FLXBL answered ${res.status} to ${method} ${path}: ${await res.text()}`);
    return res.json() as Promise<unknown>;
  };
  const list = (value: unknown): OrderRecord[] =>
    Array.isArray(value) ? value : ((value as { data?: OrderRecord[] } | undefined)?.data ?? []);

  let order: OrderRecord | undefined;
  if (orderId) {
    order = (await admin("GET", `/dynamic/Order/${encodeURIComponent(orderId)}`)) as OrderRecord | undefined;
    if (!order?.id) throw new CliError(`No Order ${orderId} in FLXBL: give the id of an existing order`);
  } else if (!info.emulator) {
    // A real tenant: no sample orders in it, and no guessing which real order to pay or refund.
    throw new CliError(
      `npm start is using the FLXBL at ${new URL(info.flxbl.url).origin} (FLXBL_URL), not the emulator: give the id of an order to send the event for`,
      2,
    );
  } else if (type === "charge.refunded") {
    const paid = list(
      await admin("POST", "/dynamic/Order/query", {
        where: { status: "paid" },
        orderBy: "paidAt",
        orderDirection: "DESC",
        limit: 1,
      }),
    );
    order = paid[0];
    if (!order?.id)
      throw new CliError(
        "No paid order to refund: pay one first with npm run webhook -- payments-webhook payment_intent.succeeded",
      );
  } else {
    // A new pending order each time, so the sample can be sent again and again.
    const total = 1000 + Math.floor(Math.random() * 9000);
    const number = `SAMPLE-${Date.now().toString(36).toUpperCase()}`;
    order = (await admin("POST", "/dynamic/Order", {
      number,
      status: "pending",
      total,
      currency: "usd",
    })) as OrderRecord;
    note(`Created pending order ${order.id} (${number}, ${total} usd cents)`);
  }
  const pi = `pi_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
  return type === "charge.refunded"
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
        last_payment_error: type === "payment_intent.payment_failed" ? { message: "Your card was declined." } : null,
      };
}
