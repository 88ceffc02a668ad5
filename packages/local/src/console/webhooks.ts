import type { WebhookSpec } from "@flxbl-lambda/core";
import { CliError } from "../cli-kit.js";
import { sampleEventData, sampleEventTypes, signSample } from "../webhook-samples.js";
import type { ConsoleContext } from "./context.js";
import { ConsoleRequestError, known } from "./http.js";
import { maskBody } from "./mask.js";

/** What sending or replaying a delivery answers the page: the gateway's status, the redacted body, the new invocation. */
export interface Sent {
  status: number;
  body: string | undefined;
  invocationId?: string;
  note?: string;
}

/** Request headers that belong to a connection, not to a delivery: not sent again on a replay. */
const hopHeaders = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive"]);

/** The app's webhooks with the sample event types each has (others take any type and JSON data). */
export function listWebhooks(ctx: ConsoleContext) {
  return ctx.manifest.flatMap((spec) =>
    spec.trigger.kind === "http"
      ? [
          {
            name: spec.name,
            signature: (spec as WebhookSpec).signature,
            route: spec.trigger.path,
            types: sampleEventTypes[spec.name] ?? [],
          },
        ]
      : [],
  );
}

/**
 * Sends a signed sample event of `type` to a webhook through the gateway, as `npm run webhook`
 * does (the same samples and signing), and answers the gateway's answer and the invocation.
 */
export async function sendSample(
  ctx: ConsoleContext,
  fn: string,
  input: { type?: unknown; args?: unknown },
): Promise<Sent> {
  known(
    "webhook",
    fn,
    listWebhooks(ctx).map((w) => w.name),
  );
  const target = ctx.info().functions[fn];
  if (!target?.url || !target.signature || !target.signingSecrets?.[0])
    throw new ConsoleRequestError(409, `${fn} has no signing secret yet: restart npm start`);
  const types = sampleEventTypes[fn];
  if (typeof input.type !== "string" || input.type === "" || (types && !types.includes(input.type)))
    throw new ConsoleRequestError(
      400,
      `Give the event type: ${types ? types.join(", ") : "any type the sender sends"}`,
    );
  const args = Array.isArray(input.args)
    ? input.args.filter((a): a is string => typeof a === "string" && a !== "")
    : [];
  const notes: string[] = [];
  let data: Record<string, unknown>;
  try {
    data = await sampleEventData(ctx.info(), fn, input.type, args, (line) => notes.push(line));
  } catch (err) {
    if (err instanceof CliError) throw new ConsoleRequestError(err.exitCode === 2 ? 400 : 502, err.message);
    throw err;
  }
  const signed = signSample({ signature: target.signature, signingSecret: target.signingSecrets[0] }, input.type, data);
  const body = Buffer.from(signed.body);
  const res = await fetch(target.url, { method: "POST", headers: signed.headers, body });
  const answer = await res.text();
  return {
    status: res.status,
    body: maskBody(answer),
    invocationId: ctx.recorder.findDelivery(fn, body)?.id,
    ...(notes.length > 0 ? { note: notes.join("\n") } : {}),
  };
}

/**
 * Sends a recorded delivery again: the same method, path, bytes and headers (signature
 * included), so the webhook's idempotency sees the same event again.
 */
export async function replay(ctx: ConsoleContext, id: string): Promise<Sent> {
  const view = ctx.recorder.get(id);
  if (!view) throw new ConsoleRequestError(404, `No invocation ${id} (only the last ones are kept)`);
  const delivery = ctx.recorder.delivery(id);
  if (!delivery) throw new ConsoleRequestError(400, `Invocation ${id} is a ${view.kind} run, not a webhook delivery`);
  const headers = new Headers();
  for (const [name, value] of Object.entries(delivery.headers)) {
    if (value === undefined || hopHeaders.has(name.toLowerCase())) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const url = `${ctx.info().gatewayUrl}${delivery.path}${delivery.query ? `?${delivery.query}` : ""}`;
  const res = await fetch(url, {
    method: delivery.method,
    headers,
    body: delivery.body.length > 0 ? new Uint8Array(delivery.body) : undefined,
  });
  const answer = await res.text();
  const again = ctx.recorder.findDelivery(view.function, delivery.body, id);
  if (again) ctx.recorder.markReplay(again.id, id);
  return { status: res.status, body: maskBody(answer), invocationId: again?.id };
}
