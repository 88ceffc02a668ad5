import { parseArgs } from "node:util";
// The app's manifest registers its own signature schemes (the files it imports), as npm start does.
import { manifest } from "@flxbl-lambda/functions";
import { CliError, request, runCli } from "./cli-kit.js";
import type { RuntimeInfo } from "./runtime.js";
import { gateway, readRuntimeInfo } from "./runtime-info.js";
import { sampleEventData, signSample } from "./webhook-samples.js";

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
  let data: Record<string, unknown>;
  try {
    data = await sampleEventData(info, fn, type, rest, (line) => console.log(line));
  } catch (err) {
    // A usage mistake (bad JSON data, no order id on a real tenant) comes with the usage.
    if (err instanceof CliError && err.exitCode === 2) throw new CliError(`${err.message}\n${usage}`, 2);
    throw err;
  }
  const { body, headers } = signSample(
    { signature: target.signature, signingSecret: target.signingSecrets[0] },
    type,
    data,
    args.values.id,
  );
  const res = await request(target.url, { method: "POST", headers, body }, gateway);
  console.log(`${res.status} ${await res.text()}`);
  if (!res.ok) process.exitCode = 1;
}

function parseCommandLine(args: string[]) {
  return parseArgs({ args, options: { id: { type: "string" } }, allowPositionals: true });
}

runCli(usage, main);
