import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import middy, { type MiddyfiedHandler } from "@middy/core";
import type { Context } from "aws-lambda";
import { awsClientDefaults } from "../aws.js";
import { createLogger } from "../log/logger.js";
import { sanitizeErrors } from "../middleware/sanitize-errors.js";
import { metricNames } from "../observe/catalog.js";
import { type InvocationMetrics, Telemetry } from "../observe/telemetry.js";
import { traceAwsClient, traceHandler } from "../observe/tracing.js";
import { FlxblAdmin } from "./admin.js";
import { type RotationEvent, rotateStep, type ScopeAuthority } from "./rotation.js";
import { SecretLoader } from "./secret-loader.js";

/**
 * Options of {@link rotationHandler}.
 *
 * @example
 * ```ts
 * const options: RotationHandlerOptions = {
 *   flxblUrl: "https://api.flxbl.dev/api/v1",
 *   adminSecretId: process.env.ADMIN_SECRET_ARN ?? "",
 *   scopesFor: manifestScopes(manifest, { app: appName, stage: "prod" }),
 * };
 * ```
 */
export interface RotationHandlerOptions {
  /** FLXBL's API base. */
  flxblUrl: string;
  /** Name or ARN of the admin key's secret (read with a 60-s cache). */
  adminSecretId: string;
  /** The manifest's scopes per function secret: the only authority for a new key's scopes. */
  scopesFor: ScopeAuthority;
  /** @default 360000 */
  graceMs?: number;
  /** @default a redacting Powertools Logger named `rotate-key` */
  logger?: Logger;
  /** @default a client with {@link awsClientDefaults} */
  secrets?: SecretsManagerClient;
  /** Rotations started / finished / failed. @default a {@link Telemetry} for the logger's service and `APP_STAGE` */
  telemetry?: Telemetry;
}

/**
 * The Secrets Manager rotation function for FLXBL keys: each step through {@link rotateStep}
 * with the admin key from its own secret, logged with the secret and step on every line, and a
 * failed step's error redacted before Secrets Manager and the Lambda runtime record it.
 *
 * @example
 * ```ts
 * export const handler = rotationHandler({
 *   flxblUrl: "https://api.flxbl.dev/api/v1",
 *   adminSecretId: adminSecretName({ app: appName, stage: "prod" }),
 *   scopesFor: manifestScopes(manifest, { app: appName, stage: "prod" }),
 * });
 * ```
 */
export function rotationHandler(
  options: RotationHandlerOptions,
): MiddyfiedHandler<RotationEvent, void, Error, Context> {
  const secrets = options.secrets ?? traceAwsClient(new SecretsManagerClient({ ...awsClientDefaults }));
  const adminKey = new SecretLoader({ secretId: options.adminSecretId, client: secrets, ttlMs: 60_000 });
  const logger = options.logger ?? createLogger({ serviceName: "rotate-key" });
  const telemetry =
    options.telemetry ??
    new Telemetry({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || "rotate-key", stage: process.env.APP_STAGE });
  const names = metricNames.rotation;
  const invocations = new WeakMap<object, InvocationMetrics>();
  const plugin = {
    requestStart: (request: { context?: { functionName?: string } }) => {
      invocations.set(request, telemetry.start(request.context?.functionName));
    },
    requestEnd: (request: { event: unknown; error: unknown }) => {
      const invocation = invocations.get(request);
      if (!invocation) return;
      const step = (request.event as Partial<RotationEvent> | undefined)?.Step;
      if (request.error !== undefined && request.error !== null) {
        invocation.count(names.failed);
        if (typeof step === "string") invocation.countBy("step", step, names.failed);
      } else if (step === "createSecret") invocation.count(names.started);
      else if (step === "finishSecret") invocation.count(names.finished);
      try {
        telemetry.finish(invocation);
      } catch (err) {
        // The step is done: its metrics must not fail it.
        logger.warn("the rotation step's metrics could not be written", { error: err as Error });
      }
    },
  };
  return middy<RotationEvent, void, Error, Context>(async (event: RotationEvent) => {
    logger.appendKeys({ secretId: event.SecretId, step: event.Step });
    const admin = new FlxblAdmin({ baseUrl: options.flxblUrl, adminKey: (await adminKey.get()).apiKey });
    await rotateStep(event, {
      secrets,
      admin,
      scopesFor: options.scopesFor,
      graceMs: options.graceMs,
      log: (message, attributes) => logger.info(message, attributes ?? {}),
    });
  }, plugin)
    .use(traceHandler(process.env.POWERTOOLS_SERVICE_NAME || "rotate-key"))
    .use(sanitizeErrors())
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use({
      onError: (request) => {
        logger.error("rotation step failed", { error: request.error as Error });
      },
    });
}
