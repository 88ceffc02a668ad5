import type { FunctionSpec } from "./manifest.js";

/**
 * The settings every deployment shares, once: the stacks, the local runtime, the functions'
 * secret cache and the rotation function all take their defaults from here.
 * - `secretTtlSeconds`: how long a function keeps its secret in memory;
 * - `maxStaleSeconds`: how long past that a function keeps its last good secret through a
 *   Secrets Manager outage;
 * - `rotationGraceSeconds`: how long a rotated-out key keeps working (longer than the TTL).
 *
 * @example
 * ```ts
 * const ttlMs = contractDefaults.secretTtlSeconds * 1000; // 300000
 * ```
 */
export const contractDefaults = {
  secretTtlSeconds: 300,
  maxStaleSeconds: 3600,
  rotationGraceSeconds: 360,
} as const;

/**
 * Where a function runs: the values its environment is written from. In the stacks these are
 * CloudFormation tokens; locally and in tests, the local servers' names.
 *
 * @example
 * ```ts
 * const placement: FunctionPlacement = {
 *   flxblUrl: "https://api.flxbl.dev/api/v1",
 *   secretId: "flxbl-lambda/prod/payments-webhook",
 *   tableName: "flxbl-lambda-prod-state",
 *   stage: "prod",
 * };
 * ```
 */
export interface FunctionPlacement {
  /** FLXBL's API base (`FLXBL_URL`). */
  flxblUrl: string;
  /** The function's own secret, by ARN or name (`FLXBL_SECRET_ARN`). */
  secretId: string;
  /** The state table (`STATE_TABLE_NAME`). */
  tableName: string;
  /** The stage (`APP_STAGE`; the `stage` dimension of its metrics). */
  stage: string;
  /**
   * The metrics namespace (`POWERTOOLS_METRICS_NAMESPACE`): the app's name, so two apps in one
   * account keep their metrics apart. @default defaultMetricsNamespace ("flxbl-lambda")
   */
  metricsNamespace?: string;
  /** @default contractDefaults.secretTtlSeconds */
  secretTtlSeconds?: number | string;
  /** @default contractDefaults.maxStaleSeconds */
  maxStaleSeconds?: number | string;
  /**
   * Values that replace the manifest entry's own `environment` values of the same name (a local
   * `.env`); names the entry does not declare, and empty values, are ignored.
   */
  overrides?: Readonly<Record<string, string | undefined>>;
}

/**
 * A function's environment, written from its manifest entry and where it runs: the one place that
 * says which variables a function gets (`readFunctionEnv` reads them back at cold start). The
 * stacks, `npm start`, the test harness and the bench all write it with this.
 *
 * @example
 * ```ts
 * const environment = functionEnvironment(paymentsWebhook, {
 *   flxblUrl: "https://api.flxbl.dev/api/v1",
 *   secretId: "flxbl-lambda/dev/payments-webhook",
 *   tableName: "flxbl-lambda-dev-state",
 *   stage: "dev",
 * });
 * // { FLXBL_URL, FLXBL_SECRET_ARN, STATE_TABLE_NAME, APP_STAGE, FLXBL_SECRET_TTL_SECONDS,
 * //   FLXBL_SECRET_MAX_STALE_SECONDS, POWERTOOLS_SERVICE_NAME, ...the entry's environment }
 * ```
 */
export function functionEnvironment(
  spec: Pick<FunctionSpec, "name" | "environment">,
  placement: FunctionPlacement,
): Record<string, string> {
  const own: Record<string, string> = { ...spec.environment };
  for (const name of Object.keys(own)) {
    const override = placement.overrides?.[name];
    if (override) own[name] = override;
  }
  return {
    // Tuning: the stage's values, unless the entry's own environment sets its own.
    FLXBL_SECRET_TTL_SECONDS: String(placement.secretTtlSeconds ?? contractDefaults.secretTtlSeconds),
    FLXBL_SECRET_MAX_STALE_SECONDS: String(placement.maxStaleSeconds ?? contractDefaults.maxStaleSeconds),
    ...own,
    // Where it runs and whose it is: never the entry's to say (defineManifest refuses them there).
    FLXBL_URL: placement.flxblUrl,
    FLXBL_SECRET_ARN: placement.secretId,
    STATE_TABLE_NAME: placement.tableName,
    APP_STAGE: placement.stage,
    POWERTOOLS_SERVICE_NAME: spec.name,
    POWERTOOLS_METRICS_NAMESPACE: placement.metricsNamespace ?? defaultMetricsNamespace,
  };
}

/**
 * The metrics namespace of a function placed without one: the sample app's name.
 *
 * @example
 * ```ts
 * const placement = { flxblUrl: "https://api.flxbl.dev/api/v1", secretId: "s", tableName: "t", stage: "dev" };
 * functionEnvironment(paymentsWebhook, placement).POWERTOOLS_METRICS_NAMESPACE; // "flxbl-lambda" (no metricsNamespace)
 * ```
 */
export const defaultMetricsNamespace = "flxbl-lambda";

/**
 * The variables {@link functionEnvironment} writes from where a function runs, which its manifest
 * entry's `environment` may not set (`defineManifest` refuses them).
 *
 * @example
 * ```ts
 * placementVariables.includes("FLXBL_SECRET_ARN"); // true
 * ```
 */
export const placementVariables: readonly string[] = [
  "FLXBL_URL",
  "FLXBL_SECRET_ARN",
  "STATE_TABLE_NAME",
  "APP_STAGE",
  "POWERTOOLS_SERVICE_NAME",
  "POWERTOOLS_METRICS_NAMESPACE",
];

/**
 * The rotation function's environment: FLXBL, its admin key's secret, the stage (with the bundled
 * manifest, its authority) and the grace period.
 *
 * @example
 * ```ts
 * const environment = rotationEnvironment({
 *   name: "rotate-key",
 *   flxblUrl: "https://api.flxbl.dev/api/v1",
 *   adminSecretId: adminSecretName({ app: appName, stage: "prod" }),
 *   stage: "prod",
 * });
 * ```
 */
export function rotationEnvironment(options: {
  /** The rotation function's manifest name (its log's service name). */
  name: string;
  flxblUrl: string;
  adminSecretId: string;
  stage: string;
  graceSeconds?: number | string;
  /** @default defaultMetricsNamespace */
  metricsNamespace?: string;
}): Record<string, string> {
  return {
    FLXBL_URL: options.flxblUrl,
    ADMIN_SECRET_ARN: options.adminSecretId,
    APP_STAGE: options.stage,
    ROTATION_GRACE_SECONDS: String(options.graceSeconds ?? contractDefaults.rotationGraceSeconds),
    POWERTOOLS_SERVICE_NAME: options.name,
    POWERTOOLS_METRICS_NAMESPACE: options.metricsNamespace ?? defaultMetricsNamespace,
  };
}

/**
 * Where a deployment lives: the SST app's name and the stage. Secret names, key names and the
 * rotation function's authority are all derived from it and the manifest, in this one module.
 *
 * @example
 * ```ts
 * const where: Deployment = { app: "flxbl-lambda", stage: "prod" };
 * ```
 */
export interface Deployment {
  app: string;
  stage: string;
}

/**
 * The Secrets Manager name of a function's secret, `<app>/<stage>/<function>`; also the name of
 * its FLXBL key (rotated keys add `@<version>`).
 *
 * @example
 * ```ts
 * functionSecretName({ app: "flxbl-lambda", stage: "prod" }, "payments-webhook"); // "flxbl-lambda/prod/payments-webhook"
 * ```
 */
export function functionSecretName(where: Deployment, fn: string): string {
  return `${where.app}/${where.stage}/${fn}`;
}

/**
 * The Secrets Manager name of the stage's FLXBL admin key, `<app>/<stage>/admin` (`admin` is
 * refused as a function name by `defineManifest`, so the two cannot collide).
 *
 * @example
 * ```ts
 * adminSecretName({ app: "flxbl-lambda", stage: "prod" }); // "flxbl-lambda/prod/admin"
 * ```
 */
export function adminSecretName(where: Deployment): string {
  return `${where.app}/${where.stage}/admin`;
}

/**
 * The rotation function's authority: for a secret name, the scopes the manifest gives its function,
 * or undefined when the name is no function secret of this deployment.
 *
 * @example
 * ```ts
 * const scopesFor = manifestScopes(manifest, { app: appName, stage: "prod" });
 * scopesFor("flxbl-lambda/prod/payments-webhook"); // ["entity:Order:read", "entity:Order:update"]
 * scopesFor("flxbl-lambda/prod/admin"); // undefined
 * ```
 */
export function manifestScopes(
  manifest: readonly Pick<FunctionSpec, "name" | "scopes">[],
  where: Deployment,
): (secretName: string) => readonly string[] | undefined {
  const byName = new Map(manifest.map((spec) => [functionSecretName(where, spec.name), spec.scopes]));
  return (secretName) => byName.get(secretName);
}
