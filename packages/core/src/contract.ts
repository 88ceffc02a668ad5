import type { FunctionSpec } from "./manifest.js";

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
