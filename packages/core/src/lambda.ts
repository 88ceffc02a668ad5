import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy, { type MiddyfiedHandler } from "@middy/core";
import type { Context } from "aws-lambda";
import type { FunctionEnv } from "./env.js";
import type { FlxblClientOptions } from "./flxbl/client.js";
import type { SecretLoader } from "./keys/secret-loader.js";
import { createLogger } from "./log/logger.js";
import { type FlxblContext, flxbl } from "./middleware/flxbl.js";
import { httpErrors } from "./middleware/http-errors.js";

/** The context a handler made with {@link flxblHandler} receives. */
export interface HandlerContext extends FlxblContext {
  logger: Logger;
}

/** Options of {@link flxblHandler}. */
export interface FlxblHandlerOptions {
  /** The function's manifest entry (its name and scopes are used). */
  spec: { name: string; scopes: readonly string[] };
  env: FunctionEnv;
  /** @default a redacting Powertools Logger named after the function */
  logger?: Logger;
  /** Lambda time kept back for answering when the handler overruns. @default 1000 */
  timeoutEarlyInMillis?: number;
  /** Overrides for tests: a secret loader, client options. */
  secrets?: SecretLoader;
  client?: Pick<FlxblClientOptions, "retry" | "safetyMarginMs" | "attemptTimeoutMs" | "fetch" | "random">;
}

/**
 * The standard middy stack of a FLXBL function, in its tested order:
 * 1. Powertools `injectLambdaContext` (request id and function name on every log line),
 * 2. {@link httpErrors} (response rules for HTTP events; rethrow for schedules),
 * 3. {@link flxbl} (the scope-guarded client on `context.flxbl`),
 * and middy's early timeout, whose abort signal is bound into `context.flxbl`.
 * Add trigger-specific middlewares (signature checks, idempotency) with `.use()`.
 *
 * @example
 * ```ts
 * export const handler = flxblHandler({ spec, env: readFunctionEnv(process.env) }, async (event, context) => {
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
  const ttl = options.env.FLXBL_SECRET_TTL_SECONDS;
  return middy<TEvent, TResult, Error, Context>(
    async (event: TEvent, context: Context, { signal }: { signal: AbortSignal }) => {
      const ctx = context as HandlerContext;
      ctx.flxbl = ctx.flxbl.bind({ signal });
      ctx.logger = logger;
      return handler(event, ctx);
    },
    { timeoutEarlyInMillis: options.timeoutEarlyInMillis ?? 1000 },
  )
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpErrors({ logger }))
    .use(
      flxbl({
        baseUrl: options.env.FLXBL_URL,
        secretId: options.env.FLXBL_SECRET_ARN,
        secretTtlMs: ttl === undefined ? undefined : ttl * 1000,
        scopes: options.spec.scopes,
        secrets: options.secrets,
        client: options.client,
        logger,
      }),
    );
}
