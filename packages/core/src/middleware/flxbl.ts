import type { MiddlewareObj } from "@middy/core";
import type { Context } from "aws-lambda";
import { type ClientLogger, createFlxblClient, type FlxblClient, type FlxblClientOptions } from "../flxbl/client.js";
import { type SecretLoader, secretLoader } from "../keys/secret-loader.js";
import { invocationMetrics } from "../observe/telemetry.js";

/**
 * The Lambda context after {@link flxbl} ran: `context.flxbl` is ready to call.
 *
 * @example
 * ```ts
 * async function work(_event: unknown, context: FlxblContext) {
 *   return context.flxbl.entity<Order>("Order").query({ where: { status: "pending" }, limit: 10 });
 * }
 * ```
 */
export interface FlxblContext extends Context {
  flxbl: FlxblClient;
}

/**
 * Options of {@link flxbl}.
 *
 * @example
 * ```ts
 * const options: FlxblMiddlewareOptions = {
 *   baseUrl: env.FLXBL_URL,
 *   secretId: env.FLXBL_SECRET_ARN,
 *   scopes: spec.scopes,
 *   client: { retry: { attempts: 2 } },
 * };
 * handler.use(flxbl(options));
 * ```
 */
export interface FlxblMiddlewareOptions {
  /** FLXBL's API base (`FLXBL_URL`). */
  baseUrl: string;
  /** The function's declared scopes (its manifest entry's `scopes`); calls outside them are refused. */
  scopes: readonly string[];
  /** Name or ARN of the function's own secret (`FLXBL_SECRET_ARN`). */
  secretId: string;
  /** Cache TTL of the secret. @default 300000 */
  secretTtlMs?: number;
  /**
   * A loader to use instead of the shared one for `secretId` (tests).
   * @default secretLoader({ secretId, ttlMs: secretTtlMs })
   */
  secrets?: SecretLoader;
  /**
   * The function's budget for FLXBL calls (its manifest entry's `rateLimit`): the client never
   * sends faster. @default undefined (paced only by what FLXBL's 429s and headers teach)
   */
  rateLimit?: { rps: number };
  /** Client options: retries, margin, fetch. */
  client?: Pick<FlxblClientOptions, "retry" | "safetyMarginMs" | "attemptTimeoutMs" | "fetch" | "random">;
  /** Where the client logs retries and key refreshes. @default undefined (no logging) */
  logger?: ClientLogger;
}

/**
 * middy middleware that puts a ready FLXBL client on `context.flxbl`: keyed by the function's own
 * secret (read at cold start, cached, refreshed on a 401), guarded by its declared scopes, and
 * bound to this invocation's deadline (`context.getRemainingTimeInMillis()`).
 *
 * @example
 * ```ts
 * import middy from "@middy/core";
 * import type { APIGatewayProxyEventV2 } from "aws-lambda";
 *
 * export const handler = middy<APIGatewayProxyEventV2, unknown, Error, FlxblContext>()
 *   .use(flxbl({ baseUrl: env.FLXBL_URL, secretId: env.FLXBL_SECRET_ARN, scopes: spec.scopes }))
 *   .handler(async (event, context) => context.flxbl.entity<Order>("Order").get(event.pathParameters?.id ?? ""));
 * ```
 */
export function flxbl(options: FlxblMiddlewareOptions): MiddlewareObj<unknown, unknown, Error, Context> {
  const secrets = options.secrets ?? secretLoader({ secretId: options.secretId, ttlMs: options.secretTtlMs });
  // Cold start: start reading the key while the rest of the module initialises.
  secrets.prefetch();
  const client = createFlxblClient({
    ...options.client,
    baseUrl: options.baseUrl,
    apiKey: secrets.apiKeySource(),
    scopes: options.scopes,
    rateLimit: options.rateLimit,
    logger: options.logger,
  });

  const flxblMiddlewareBefore = (request: { context: Context; internal?: Record<string, unknown> }) => {
    const remaining = request.context.getRemainingTimeInMillis?.();
    const deadline = typeof remaining === "number" ? Date.now() + remaining : undefined;
    (request.context as FlxblContext).flxbl = client.bind({ deadline, metrics: invocationMetrics(request) });
  };
  return { name: "flxbl", before: flxblMiddlewareBefore };
}
