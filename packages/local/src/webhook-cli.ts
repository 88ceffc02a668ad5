import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { signatureScheme } from "@flxbl-lambda/core";
// The app's manifest registers its own signature schemes (the files it imports), as npm start does.
import { manifest } from "@flxbl-lambda/functions";
import { CliError, request, runCli } from "./cli-kit.js";
import type { RuntimeInfo } from "./runtime.js";
import { gateway, readRuntimeInfo } from "./runtime-info.js";

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
(its manifest entry's signature scheme). Without an orderId, a payment_intent event pays (or
fails) a new pending order it creates with a matching total, and charge.refunded refunds the
most recently paid order; without a version, the current time in milliseconds; for other webhooks, the JSON data given
(default {}) as the event's data. Each event gets a new id unless --id gives one.`;

const webhooks: string[] = manifest.flatMap((spec) => (spec.trigger.kind === "http" ? [spec.name] : []));

async function main(argv: string[]) {
  let args: ReturnType<typeof parseCommandLine>;
  try {
    args = parseCommandLine(argv);
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${usage}`, 2);
  }
  const [fn, type, ...rest] = args.positionals;
  if (!fn || !type) throw new CliError(`${usage}\n\nwebhooks: ${webhooks.join(", ")}`, 2);
  // The running app says what runs (its manifest may have grown since); without one, the manifest.
  let info: RuntimeInfo;
  try {
    info = readRuntimeInfo();
  } catch (err) {
    if (!webhooks.includes(fn)) throw new CliError(`No webhook named "${fn}". Webhooks: ${webhooks.join(", ")}`, 2);
    throw err;
  }
  const running = Object.entries(info.functions).flatMap(([name, f]) => (f.url ? [name] : []));
  const target = info.functions[fn];
  if (!target?.url || !target.signature || !target.signingSecrets?.[0])
    throw new CliError(
      `No webhook named "${fn}" in the running npm start. Webhooks: ${running.join(", ")}${webhooks.includes(fn) ? " (restart npm start after editing the manifest)" : ""}`,
      2,
    );
  const secret = target.signingSecrets[0];
  const scheme = signatureScheme(target.signature);
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

  let data: Record<string, unknown>;
  if (fn === "payments-webhook") {
    let order: OrderRecord | undefined;
    if (rest[0]) {
      order = (await admin("GET", `/dynamic/Order/${encodeURIComponent(rest[0])}`)) as OrderRecord | undefined;
      if (!order?.id) throw new CliError(`No Order ${rest[0]} in FLXBL: give the id of an existing order`);
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
      console.log(`Created pending order ${order.id} (${number}, ${total} usd cents)`);
    }
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
      throw new CliError(`The event data must be JSON, e.g. '{"action":"opened"}'\n${usage}`, 2);
    }
  }
  const id = args.values.id ?? randomUUID();
  const body = JSON.stringify(scheme.sampleBody(type, id, data));
  const headers = scheme.sign(body, secret, { id, type, timestampSeconds: Math.floor(Date.now() / 1000) });
  const res = await request(
    target.url,
    { method: "POST", headers: { "content-type": "application/json", ...headers }, body },
    gateway,
  );
  console.log(`${res.status} ${await res.text()}`);
  if (!res.ok) process.exitCode = 1;
}

function parseCommandLine(args: string[]) {
  return parseArgs({ args, options: { id: { type: "string" } }, allowPositionals: true });
}

runCli(usage, main);
