import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import middy, { type MiddyfiedHandler } from "@middy/core";
import type { Context } from "aws-lambda";
import type { FunctionEnv } from "./env.js";
import type { FlxblClientOptions } from "./flxbl/client.js";
import { type SecretLoader, secretLoader } from "./keys/secret-loader.js";
import { createLogger } from "./log/logger.js";
import { type FlxblContext, flxbl } from "./middleware/flxbl.js";
import { answeredError, httpErrors } from "./middleware/http-errors.js";
import { sanitizeErrors } from "./middleware/sanitize-errors.js";
import { type InvocationMetrics, invocationMetrics, setInvocationMetrics, Telemetry } from "./observe/telemetry.js";
import { traceHandler } from "./observe/tracing.js";
import type { KeyedLock, RecordLock } from "./state/lock.js";

/**
 * middy's early timeout in {@link flxblHandler}: the time kept to answer before Lambda's deadline.
 *
 * @example
 * ```ts
 * export const handler = flxblHandler({ spec, env, timeoutEarlyInMillis: 2 * defaultTimeoutEarlyMs }, async (_event, context) =>
 *   context.flxbl.entity<Order>("Order").query({ where: { status: "pending" }, limit: 10 }),
 * );
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
  /**
   * The function's Powertools Metrics (namespace = the app, dimensions `service` and `stage`): a
   * metric added here is written with the function's own at the end of the invocation.
   */
  metrics: Metrics;
  /**
   * A per-record lease lock on the state table, limited to the lock namespaces the manifest entry
   * declares (`locks: ["order"]` allows keys `order#<id>`); run FLXBL calls under it with
   * `hold.callOptions`. Refuses every key when the entry declares none, and in a plain
   * {@link flxblHandler} not given one (its `lock` option). A {@link KeyedLock}; in a webhook that
   * took its record's lock with the event's idempotency record (`lockKey`), that key runs under
   * the lock already held.
   */
  lock: RecordLock;
}

/**
 * Options of {@link flxblHandler}.
 *
 * @example
 * ```ts
 * const options: FlxblHandlerOptions = { spec: expireStaleOrders, env: readFunctionEnv(process.env) };
 * export const handler = flxblHandler(options, async (_event, context) => context.flxbl.entity<Order>("Order").list());
 * ```
 */
export interface FlxblHandlerOptions {
  /** The function's manifest entry (its name, scopes, lock namespaces and rate budget are used). */
  spec: { name: string; scopes: readonly string[]; locks?: readonly string[]; rateLimit?: { rps: number } };
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
  /**
   * The lock on `context.lock`: `functionLock(options)` from `@flxbl-lambda/core/state`.
   * `webhookHandler` and `jobHandler` pass it; a function that locks nothing leaves it out and
   * carries no DynamoDB client. @default a lock that refuses every key
   */
  lock?: KeyedLock;
  /**
   * What the invocation's outcome adds to its metrics, read when it ends (after every middleware,
   * early answers included): `webhookHandler` counts outcomes, `jobHandler` run totals.
   * @default nothing beyond FLXBL calls, key refreshes and secret reads
   */
  outcome?: InvocationOutcome;
  /** @default a {@link Telemetry} for `spec.name` and `env.APP_STAGE` */
  telemetry?: Telemetry;
  /**
   * DynamoDB client for the state table: the lock, and what builds on this stack (idempotency
   * records, a job's checkpoint). @default the container's shared client
   */
  dynamodb?: DynamoDBClient;
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
  const lock = options.lock ?? noLock(options.spec.name);
  const telemetry =
    options.telemetry ?? new Telemetry({ serviceName: options.spec.name, stage: options.env.APP_STAGE });
  const outcome = options.outcome;
  return (
    middy<TEvent, TResult, Error, Context>(
      async (event: TEvent, context: Context, { signal }: { signal: AbortSignal }) => {
        const ctx = context as HandlerContext;
        ctx.flxbl = ctx.flxbl.bind({ signal });
        ctx.logger = logger;
        ctx.metrics = telemetry.metrics;
        return handler(event, ctx);
      },
      {
        timeoutEarlyInMillis: timeoutEarly,
        // The request hooks see every invocation whole, whatever a middleware answered early.
        requestStart: (request) => {
          setInvocationMetrics(
            request as { internal: Record<string, unknown> },
            telemetry.start((request.context as Partial<Context> | undefined)?.functionName),
          );
        },
        // Never throws: the invocation's work is done and answered; metrics must not turn it into a failure.
        requestEnd: (request) => {
          const internal = request.internal as Record<string, unknown>;
          const invocation = invocationMetrics(request as { internal: Record<string, unknown> }) as InvocationMetrics;
          try {
            outcome?.({ ...request, error: request.error ?? internal[answeredError], internal }, invocation);
          } catch (err) {
            logger.warn("the invocation's outcome metrics failed; written without them", { error: err as Error });
          }
          try {
            telemetry.finish(invocation);
          } catch (err) {
            logger.warn("the invocation's metrics could not be written", { error: err as Error });
          }
        },
      },
    )
      // First: its segment spans every middleware; its onError runs last, with the error sanitized.
      .use(traceHandler(options.spec.name))
      .use(sanitizeErrors())
      .use(injectLambdaContext(logger, { resetKeys: true }))
      .use(httpErrors({ logger }))
      .use(
        flxbl({
          baseUrl: options.env.FLXBL_URL,
          secretId: options.env.FLXBL_SECRET_ARN,
          scopes: options.spec.scopes,
          rateLimit: options.spec.rateLimit,
          secrets: options.secrets ?? functionSecretLoader(options.env, logger),
          // FLXBL calls give up before middy's early timeout fires, so they fail with a clear error.
          client: { safetyMarginMs: timeoutEarly + 500, ...options.client },
          logger,
        }),
      )
      .use({
        // Before the trigger's middlewares, which may hand the handler a lock they already hold.
        before: (request) => {
          (request.context as HandlerContext).lock = lock;
        },
      })
  );
}

/**
 * What an invocation came to, as {@link FlxblHandlerOptions.outcome} reads it: the event, the
 * answer (HTTP errors already turned into responses), the error if one was thrown or answered,
 * and middy's `internal` (where a replay is marked).
 */
export interface InvocationRecord {
  event: unknown;
  response: unknown;
  error: unknown;
  internal: Record<string, unknown>;
}

/**
 * Adds an invocation's outcome to its metrics (see {@link FlxblHandlerOptions.outcome}).
 *
 * @example
 * ```ts
 * const countOrders: InvocationOutcome = (request, metrics) => {
 *   if (!request.error) metrics.count("OrdersSwept");
 * };
 * ```
 */
export type InvocationOutcome = (request: InvocationRecord, metrics: InvocationMetrics) => void;

/** The lock of a handler given none: every key refused. */
function noLock(name: string): KeyedLock {
  return {
    run: async () => {
      throw new Error(`${name} has no lock: pass \`lock: functionLock(options)\` to flxblHandler`);
    },
  } as unknown as KeyedLock;
}

/**
 * The process-wide loader of a function's own secret (`FLXBL_SECRET_ARN`) with its environment's
 * settings (`FLXBL_SECRET_TTL_SECONDS`, `FLXBL_SECRET_MAX_STALE_SECONDS`): the one
 * {@link flxblHandler} and the webhook middleware share.
 *
 * @example
 * ```ts
 * const { signingSecrets } = await functionSecretLoader(readFunctionEnv(process.env), logger).get();
 * ```
 */
export function functionSecretLoader(env: FunctionEnv, logger: Logger): SecretLoader {
  const ttl = env.FLXBL_SECRET_TTL_SECONDS;
  const maxStale = env.FLXBL_SECRET_MAX_STALE_SECONDS;
  return secretLoader({
    secretId: env.FLXBL_SECRET_ARN,
    ttlMs: ttl === undefined ? undefined : ttl * 1000,
    maxStaleMs: maxStale === undefined ? undefined : maxStale * 1000,
    logger,
  });
}
