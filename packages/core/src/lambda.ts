import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import middy, { type MiddlewareObj, type MiddyfiedHandler } from "@middy/core";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { type FunctionEnv, stateTableName } from "./env.js";
import type { FlxblClientOptions } from "./flxbl/client.js";
import { type SecretLoader, secretLoader } from "./keys/secret-loader.js";
import { createLogger } from "./log/logger.js";
import type { SignatureScheme } from "./manifest.js";
import { type FlxblContext, flxbl } from "./middleware/flxbl.js";
import { httpErrors } from "./middleware/http-errors.js";
import { webhookIdempotency } from "./middleware/idempotency.js";
import { sanitizeErrors } from "./middleware/sanitize-errors.js";
import { type VerifiedWebhook, webhook } from "./middleware/webhook.js";

/**
 * middy's early timeout in {@link flxblHandler}: the time kept to answer before Lambda's deadline.
 *
 * @example
 * ```ts
 * export const handler = flxblHandler({ spec, env, timeoutEarlyInMillis: 2 * defaultTimeoutEarlyMs }, work);
 * ```
 */
export const defaultTimeoutEarlyMs = 1000;

/**
 * The context a handler made with {@link flxblHandler} receives.
 *
 * @example
 * ```ts
 * async function work(_event: unknown, context: HandlerContext) {
 *   context.logger.info("sweeping pending orders");
 *   return context.flxbl.entity<Order>("Order").query({ where: { status: "pending" }, limit: 10 });
 * }
 * ```
 */
export interface HandlerContext extends FlxblContext {
  logger: Logger;
}

/**
 * Options of {@link flxblHandler}.
 *
 * @example
 * ```ts
 * const options: FlxblHandlerOptions = { spec: expireStaleOrders, env: readFunctionEnv(process.env) };
 * export const handler = flxblHandler(options, work);
 * ```
 */
export interface FlxblHandlerOptions {
  /** The function's manifest entry (its name and scopes are used). */
  spec: { name: string; scopes: readonly string[] };
  /** The function's environment, from `readFunctionEnv(process.env)`. */
  env: FunctionEnv;
  /** @default a redacting Powertools Logger named after the function */
  logger?: Logger;
  /** Lambda time kept back for answering when the handler overruns. @default 1000 */
  timeoutEarlyInMillis?: number;
  /**
   * Overrides for tests: a secret loader, client options.
   * @default the shared {@link secretLoader} of `env.FLXBL_SECRET_ARN` (TTL `FLXBL_SECRET_TTL_SECONDS`,
   * served stale through outages for up to `FLXBL_SECRET_MAX_STALE_SECONDS`)
   */
  secrets?: SecretLoader;
  client?: Pick<FlxblClientOptions, "retry" | "safetyMarginMs" | "attemptTimeoutMs" | "fetch" | "random">;
}

/**
 * The standard middy stack of a FLXBL function, in its tested order:
 * 1. {@link sanitizeErrors} (an error that leaves the handler, as a job's does, carries no secret),
 * 2. Powertools `injectLambdaContext` (request id and function name on every log line),
 * 3. {@link httpErrors} (response rules for HTTP events; rethrow for schedules),
 * 4. {@link flxbl} (the scope-guarded client on `context.flxbl`),
 * and middy's early timeout, whose abort signal is bound into `context.flxbl`.
 * Add trigger-specific middlewares (signature checks, idempotency) with `.use()`.
 *
 * @example
 * ```ts
 * const env = readFunctionEnv(process.env);
 * export const handler = flxblHandler({ spec, env }, async (event: { orderId: string }, context) => {
 *   const order = await context.flxbl.entity<Order>("Order").get(event.orderId);
 *   return { status: order.status };
 * });
 * ```
 */
export function flxblHandler<TEvent, TResult>(
  options: FlxblHandlerOptions,
  handler: (event: TEvent, context: HandlerContext) => Promise<TResult>,
): MiddyfiedHandler<TEvent, TResult, Error, Context> {
  const logger = options.logger ?? createLogger({ serviceName: options.spec.name });
  const timeoutEarly = options.timeoutEarlyInMillis ?? defaultTimeoutEarlyMs;
  return middy<TEvent, TResult, Error, Context>(
    async (event: TEvent, context: Context, { signal }: { signal: AbortSignal }) => {
      const ctx = context as HandlerContext;
      ctx.flxbl = ctx.flxbl.bind({ signal });
      ctx.logger = logger;
      return handler(event, ctx);
    },
    { timeoutEarlyInMillis: timeoutEarly },
  )
    .use(sanitizeErrors())
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpErrors({ logger }))
    .use(
      flxbl({
        baseUrl: options.env.FLXBL_URL,
        secretId: options.env.FLXBL_SECRET_ARN,
        scopes: options.spec.scopes,
        secrets: options.secrets ?? sharedLoader(options.env, logger),
        // FLXBL calls give up before middy's early timeout fires, so they fail with a clear error.
        client: { safetyMarginMs: timeoutEarly + 500, ...options.client },
        logger,
      }),
    );
}

/**
 * The context a handler made with {@link webhookHandler} receives.
 *
 * @example
 * ```ts
 * export const handler = webhookHandler({ spec, env }, async (_event, context: WebhookHandlerContext) => {
 *   context.logger.info("event received", { id: context.webhook.id, type: context.webhook.type });
 *   return { statusCode: 200, body: "{}" };
 * });
 * ```
 */
export interface WebhookHandlerContext extends HandlerContext {
  webhook: VerifiedWebhook;
}

/**
 * Options of {@link webhookHandler}: those of {@link flxblHandler} plus the webhook's.
 *
 * @example
 * ```ts
 * const options: WebhookHandlerOptions = { spec: paymentsWebhook, env, maxBodyBytes: 64 * 1024 };
 * export const handler = webhookHandler(options, applyPayment);
 * ```
 */
export interface WebhookHandlerOptions extends FlxblHandlerOptions {
  spec: { name: string; scopes: readonly string[]; signature: SignatureScheme };
  /** @default 262144 (256 KiB) */
  maxBodyBytes?: number;
  /** @default 300 */
  toleranceSeconds?: number;
  /** Clock for the signature window (tests). @default Date.now */
  now?: () => number;
  /** DynamoDB client for idempotency records (tests). @default reads `AWS_ENDPOINT_URL_DYNAMODB` */
  dynamodb?: DynamoDBClient;
}

/**
 * A signed, idempotent webhook: {@link flxblHandler}'s stack, then {@link webhook} (size limit,
 * signature on the raw bytes, JSON, event id and type), then {@link webhookIdempotency} keyed
 * by the sender's event id. The handler sees each verified event at most once.
 *
 * @example
 * ```ts
 * export const handler = webhookHandler({ spec, env: readFunctionEnv(process.env) }, async (event, context) => {
 *   const { type, payload } = context.webhook;
 *   return { statusCode: 200, body: JSON.stringify({ status: "applied", type }) };
 * });
 * ```
 */
export function webhookHandler<TResult>(
  options: WebhookHandlerOptions,
  handler: (event: APIGatewayProxyEventV2, context: WebhookHandlerContext) => Promise<TResult>,
): MiddyfiedHandler<APIGatewayProxyEventV2, TResult, Error, Context> {
  const tableName = stateTableName(options.env);
  const logger = options.logger ?? createLogger({ serviceName: options.spec.name });
  const secrets = options.secrets ?? sharedLoader(options.env, logger);
  return flxblHandler<APIGatewayProxyEventV2, TResult>({ ...options, logger, secrets }, (event, context) =>
    handler(event, context as WebhookHandlerContext),
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
      }) as MiddlewareObj<APIGatewayProxyEventV2, TResult, Error, Context>,
    );
}

function sharedLoader(env: FunctionEnv, logger: Logger): SecretLoader {
  const ttl = env.FLXBL_SECRET_TTL_SECONDS;
  const maxStale = env.FLXBL_SECRET_MAX_STALE_SECONDS;
  return secretLoader({
    secretId: env.FLXBL_SECRET_ARN,
    ttlMs: ttl === undefined ? undefined : ttl * 1000,
    maxStaleMs: maxStale === undefined ? undefined : maxStale * 1000,
    logger,
  });
}
