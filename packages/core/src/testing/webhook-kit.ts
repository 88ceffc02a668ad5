import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type { WebhookSpec } from "../manifest.js";
import { signatureScheme } from "../webhooks/scheme.js";
import { httpApiEvent, lambdaContext } from "./lambda-events.js";

/**
 * A delivery to make in a test: an event of `type`, signed by the webhook's scheme with `secret`.
 *
 * @example
 * ```ts
 * const delivery: TestDelivery = { type: "push", data: { ref: "refs/heads/main" }, secret };
 * ```
 */
export interface TestDelivery {
  type: string;
  /** The event's data; the body is what the sender would send with it (`sampleBody`). @default {} */
  data?: Record<string, unknown>;
  /** The body exactly, instead of one made from `type` and `data`. */
  body?: string;
  /** The signing secret to sign with (a wrong one makes a forgery). */
  secret: string;
  /** The sender's event id. @default a new UUID */
  id?: string;
  /** When it was signed. @default now */
  timestampSeconds?: number;
  /** Extra or replacing headers (lower-case names), e.g. to drop or damage the signature. */
  headers?: Record<string, string | undefined>;
}

/**
 * The API Gateway HTTP API event of a signed delivery to a webhook, as AWS would pass it: the
 * body made and signed the way the webhook's sender (its manifest entry's `signature`) does.
 *
 * @example
 * ```ts
 * const event = signedWebhookEvent(githubWebhook, { type: "ping", data: { zen: "Design for failure." }, secret });
 * const result = await handler(event, lambdaContext({ functionName: "github-webhook", timeoutSeconds: 10 }));
 * ```
 */
export function signedWebhookEvent(
  spec: Pick<WebhookSpec, "trigger" | "signature">,
  delivery: TestDelivery,
): APIGatewayProxyEventV2 & { body: string } {
  const scheme = signatureScheme(spec.signature);
  const id = delivery.id ?? randomUUID();
  const body = delivery.body ?? JSON.stringify(scheme.sampleBody(delivery.type, id, delivery.data ?? {}));
  const signed = scheme.sign(body, delivery.secret, {
    id,
    type: delivery.type,
    timestampSeconds: delivery.timestampSeconds ?? Math.floor(Date.now() / 1000),
  });
  const headers = { "content-type": "application/json", ...signed, ...delivery.headers };
  return {
    ...httpApiEvent({ method: spec.trigger.method, path: spec.trigger.path, headers, body }),
    body,
  };
}

/**
 * What a webhook answered in a test: its status, headers and JSON body.
 *
 * @example
 * ```ts
 * import { expect } from "vitest";
 *
 * const answer: WebhookAnswer = await deliverWebhook(handler, spec, { type: "ping", secret });
 * expect(answer.statusCode).toBe(200);
 * ```
 */
export interface WebhookAnswer {
  statusCode: number;
  headers: Record<string, string>;
  /** The parsed body (undefined when it was empty). */
  // biome-ignore lint/suspicious/noExplicitAny: a test reads whatever fields it asserts on
  json: any;
}

/**
 * Signs a delivery as the webhook's sender does, calls the handler with the API Gateway event and
 * a Lambda context, and returns its answer: the webhook test kit for your own handlers' tests.
 *
 * @example
 * ```ts
 * const answer = await deliverWebhook(handler, githubWebhook, { type: "push", data: { ref: "refs/heads/main" }, secret });
 * const again = await deliverWebhook(handler, githubWebhook, { type: "push", data: { ref: "refs/heads/main" }, secret, id: answer.json.eventId });
 * ```
 */
export async function deliverWebhook(
  handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>,
  spec: Pick<WebhookSpec, "name" | "trigger" | "signature" | "timeoutSeconds" | "memoryMb">,
  delivery: TestDelivery,
): Promise<WebhookAnswer> {
  const result = (await handler(
    signedWebhookEvent(spec, delivery),
    lambdaContext({ functionName: spec.name, timeoutSeconds: spec.timeoutSeconds, memoryMb: spec.memoryMb }),
  )) as APIGatewayProxyStructuredResultV2;
  return webhookAnswer(result);
}

/**
 * Reads a handler's result as API Gateway would (no status means 200) into a {@link WebhookAnswer},
 * for tests that build their own event.
 *
 * @example
 * ```ts
 * const event = httpApiEvent({ method: "POST", path: "/webhooks/payments", body }); // unsigned
 * const answer = webhookAnswer(await handler(event, lambdaContext({ functionName: "payments-webhook", timeoutSeconds: 10 }))); // 401
 * ```
 */
export function webhookAnswer(result: APIGatewayProxyStructuredResultV2 | undefined): WebhookAnswer {
  const body = typeof result?.body === "string" ? result.body : "";
  return {
    statusCode: result?.statusCode ?? 200,
    headers: (result?.headers ?? {}) as Record<string, string>,
    json: body ? JSON.parse(body) : undefined,
  };
}
