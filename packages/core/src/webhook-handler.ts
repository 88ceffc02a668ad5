import type { MiddlewareObj, MiddyfiedHandler } from "@middy/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { stateTableName } from "./env.js";
import { type FlxblHandlerOptions, flxblHandler, functionSecretLoader, type HandlerContext } from "./lambda.js";
import { createLogger } from "./log/logger.js";
import { ClientError } from "./middleware/errors.js";
import { webhookIdempotency } from "./middleware/idempotency.js";
import { type VerifiedWebhook, webhook } from "./middleware/webhook.js";
import { webhookOutcome } from "./middleware/webhook-outcome.js";
import { functionLock } from "./state/function-lock.js";
import type { SignatureSchemeName } from "./webhooks/scheme.js";

/**
 * The event types a webhook handles, each with the schema of its payload: any Standard Schema
 * (zod, zod/mini, valibot, arktype). Deliveries of other types are answered 200 `ignored`.
 *
 * @example
 * ```ts
 * import * as z from "zod/mini";
 *
 * const events = {
 *   push: z.looseObject({ ref: z.string(), repository: z.looseObject({ full_name: z.string() }) }),
 *   ping: z.looseObject({ zen: z.string() }),
 * } satisfies WebhookEvents;
 * ```
 */
export type WebhookEvents = Record<string, StandardSchemaV1>;

/**
 * A verified delivery of one of `E`'s types, its payload validated by that type's schema:
 * `switch (context.webhook.type)` narrows `payload`.
 *
 * @example
 * ```ts
 * import * as z from "zod/mini";
 *
 * const pushSchema = z.looseObject({ ref: z.string() });
 * function describe(webhook: TypedWebhook<{ push: typeof pushSchema }>) {
 *   return `${webhook.type} to ${webhook.payload.ref}`;
 * }
 * ```
 */
export type TypedWebhook<E extends WebhookEvents> = {
  [K in keyof E & string]: { id: string; type: K; payload: StandardSchemaV1.InferOutput<E[K]> };
}[keyof E & string];

/**
 * The context a handler made with {@link webhookHandler} receives: {@link HandlerContext} and the
 * verified delivery (`TypedWebhook` when the handler lists its `events`).
 *
 * @example
 * ```ts
 * export const handler = webhookHandler({ spec, env }, async (_event, context: WebhookHandlerContext) => {
 *   context.logger.info("event received", { id: context.webhook.id, type: context.webhook.type });
 *   return { statusCode: 200, body: "{}" };
 * });
 * ```
 */
export interface WebhookHandlerContext<W = VerifiedWebhook> extends HandlerContext {
  webhook: W;
}

/**
 * Options of {@link webhookHandler}: those of {@link flxblHandler} plus the webhook's.
 *
 * @example
 * ```ts
 * const options: WebhookHandlerOptions = { spec: paymentsWebhook, env, maxBodyBytes: 64 * 1024 };
 * export const handler = webhookHandler(options, async (_event, context) => ({ statusCode: 200, body: context.webhook.id }));
 * ```
 */
export interface WebhookHandlerOptions<E extends WebhookEvents = WebhookEvents> extends FlxblHandlerOptions {
  spec: {
    name: string;
    scopes: readonly string[];
    signature: SignatureSchemeName;
    locks?: readonly string[];
    rateLimit?: { rps: number };
  };
  /**
   * The event types handled, each with its payload's schema: other types are answered 200
   * `{"status":"ignored"}` before the handler runs, and a payload its schema refuses gets 400 with
   * the problems. @default every type reaches the handler, its payload unchecked
   */
  events?: E;
  /**
   * The lock key of the record an event changes (`order#<id>`, in a namespace of the entry's
   * `locks`), read from the verified payload before its schema checks it; undefined for none.
   * That lock is taken in one DynamoDB call (`TransactWriteItems`) with the event's idempotency
   * record and let go in one with the record's completion, so `context.lock.run` on that key
   * costs no call of its own. @default none: the handler's `context.lock.run` takes its own locks
   */
  lockKey?: (webhook: VerifiedWebhook) => string | undefined;
  /** @default 262144 (256 KiB) */
  maxBodyBytes?: number;
  /** @default 300 */
  toleranceSeconds?: number;
  /** Clock for the signature window (tests). @default Date.now */
  now?: () => number;
}

const json = { "content-type": "application/json" };

/**
 * A signed, idempotent webhook: {@link flxblHandler}'s stack, then the `webhook` middleware (size
 * limit, the signature on the raw bytes by the manifest entry's scheme, JSON, event id and type),
 * then idempotency keyed by the verified event id. With `events`, unlisted types are acknowledged
 * as ignored and each listed type's payload is validated: the handler gets a discriminated,
 * typed `context.webhook`. The handler sees each verified event at most once.
 *
 * @example
 * ```ts
 * import * as z from "zod/mini";
 *
 * const pushSchema = z.looseObject({ ref: z.string() });
 * export const handler = webhookHandler(
 *   { spec: githubWebhook, env: readFunctionEnv(process.env), events: { push: pushSchema } },
 *   async (_event, context) => {
 *     const { id, payload } = context.webhook; // payload: the output type of pushSchema
 *     context.logger.info("push received", { id, ref: payload.ref });
 *     return { statusCode: 200, body: JSON.stringify({ status: "applied" }) };
 *   },
 * );
 * ```
 */
export function webhookHandler<TResult, E extends WebhookEvents>(
  options: WebhookHandlerOptions<E> & { events: E },
  handler: (event: APIGatewayProxyEventV2, context: WebhookHandlerContext<TypedWebhook<E>>) => Promise<TResult>,
): MiddyfiedHandler<APIGatewayProxyEventV2, TResult, Error, Context>;
export function webhookHandler<TResult>(
  options: WebhookHandlerOptions,
  handler: (event: APIGatewayProxyEventV2, context: WebhookHandlerContext) => Promise<TResult>,
): MiddyfiedHandler<APIGatewayProxyEventV2, TResult, Error, Context>;
export function webhookHandler<TResult>(
  options: WebhookHandlerOptions,
  handler: (event: APIGatewayProxyEventV2, context: WebhookHandlerContext<never>) => Promise<TResult>,
): MiddyfiedHandler<APIGatewayProxyEventV2, TResult, Error, Context> {
  const tableName = stateTableName(options.env);
  const logger = options.logger ?? createLogger({ serviceName: options.spec.name });
  const secrets = options.secrets ?? functionSecretLoader(options.env, logger);
  const { events } = options;
  return flxblHandler<APIGatewayProxyEventV2, TResult>(
    {
      ...options,
      logger,
      secrets,
      lock: options.lock ?? functionLock(options),
      outcome: options.outcome ?? webhookOutcome,
    },
    async (event, context) => {
      const ctx = context as WebhookHandlerContext<VerifiedWebhook>;
      if (events) {
        const { id, type, payload } = ctx.webhook;
        // Its own keys only: a type named `constructor` or `__proto__` is just another unlisted type.
        const schema = Object.hasOwn(events, type) ? events[type] : undefined;
        if (!schema) {
          logger.info("webhook event ignored", { eventId: id, type });
          return {
            statusCode: 200,
            headers: json,
            body: JSON.stringify({ eventId: id, status: "ignored", reason: `event type ${type} is not handled` }),
          } as TResult;
        }
        const result = await schema["~standard"].validate(payload);
        if (result.issues) {
          const problems = result.issues.map(
            (i) =>
              `${(i.path ?? []).map((p) => (typeof p === "object" ? String(p.key) : String(p))).join(".") || "(root)"}: ${i.message}`,
          );
          throw new ClientError(400, `${type} event is invalid`, { problems });
        }
        ctx.webhook = { id, type, payload: result.value as Record<string, unknown> };
      }
      return handler(event, ctx as WebhookHandlerContext<never>);
    },
  )
    .use(
      webhook({
        scheme: options.spec.signature,
        secrets,
        logger,
        maxBodyBytes: options.maxBodyBytes,
        toleranceSeconds: options.toleranceSeconds,
        now: options.now,
      }) as MiddlewareObj<APIGatewayProxyEventV2, TResult, Error, Context>,
    )
    .use(
      webhookIdempotency({
        tableName,
        functionName: options.spec.name,
        scheme: options.spec.signature,
        client: options.dynamodb,
        logger,
        lockKey: options.lockKey,
      }) as MiddlewareObj<APIGatewayProxyEventV2, TResult, Error, Context>,
    );
}
