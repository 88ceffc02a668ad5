import { placementVariables } from "./contract.js";
import { isScope, type Scope } from "./flxbl/scopes.js";
import { parseSchedule } from "./schedule.js";
import "./webhooks/built-in.js";
import { type SignatureSchemeName, signatureScheme, UnknownSignatureSchemeError } from "./webhooks/scheme.js";

/**
 * An API Gateway HTTP API route: `POST /webhooks/payments`.
 *
 * @example
 * ```ts
 * const trigger: HttpTrigger = { kind: "http", method: "POST", path: "/webhooks/payments" };
 * ```
 */
export interface HttpTrigger {
  kind: "http";
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: `/${string}`;
}

/**
 * An EventBridge schedule in its own syntax: `rate(15 minutes)` or `cron(0 6 * * ? *)` (UTC).
 *
 * @example
 * ```ts
 * const daily: ScheduleTrigger = { kind: "schedule", expression: "cron(0 6 * * ? *)" };
 * ```
 */
export interface ScheduleTrigger {
  kind: "schedule";
  expression: `rate(${string})` | `cron(${string})`;
}

interface BaseSpec {
  /** Kebab-case, unique: names the Lambda, its secret and its FLXBL key. */
  name: string;
  /** The handler, as SST wants it: `packages/functions/src/jobs/expire-stale-orders.handler`. */
  handler: string;
  /** Exactly the FLXBL scopes the function uses; its key gets these and no more. */
  scopes: readonly Scope[];
  /**
   * The `KeyedLock` namespaces the function takes (`order` for keys `order#<id>`): its IAM policy
   * reaches exactly those items of the state table (`lock#order#*`), and a lock outside them is
   * refused. Functions that take the same namespace serialise on it. @default none
   */
  locks?: readonly string[];
  /** Lambda timeout in seconds. */
  timeoutSeconds: number;
  /** Lambda memory in MB. @default 256 */
  memoryMb?: number;
  /**
   * A budget for the function's FLXBL calls: its client never sends faster than `rps` requests per
   * second (per container), so a job leaves room for the webhooks that share the tenant's rate
   * limit. Without it the client still paces itself to what FLXBL's 429s teach. @default none
   */
  rateLimit?: { rps: number };
  /**
   * Extra, non-secret environment variables. May tune the secret cache
   * (`FLXBL_SECRET_TTL_SECONDS`, `FLXBL_SECRET_MAX_STALE_SECONDS`) for this function; may not set
   * what is written from where it runs (`FLXBL_URL`, `FLXBL_SECRET_ARN`, `STATE_TABLE_NAME`,
   * `APP_STAGE`, `POWERTOOLS_SERVICE_NAME`).
   */
  environment?: Readonly<Record<string, string>>;
  description?: string;
}

/**
 * A webhook: an HTTP route whose requests are signed by `signature`.
 *
 * @example
 * ```ts
 * const paymentsWebhook: WebhookSpec = {
 *   name: "payments-webhook",
 *   handler: "packages/functions/src/webhooks/payments.handler",
 *   trigger: { kind: "http", method: "POST", path: "/webhooks/payments" },
 *   signature: "stripe",
 *   scopes: ["entity:Order:read", "entity:Order:update"],
 *   timeoutSeconds: 10,
 * };
 * ```
 */
export interface WebhookSpec extends BaseSpec {
  trigger: HttpTrigger;
  /**
   * The name of the registered signature scheme its sender signs with: a built-in one (`stripe`,
   * `standard-webhooks`, `github`, `shopify`) or one registered with `registerSignatureScheme`.
   */
  signature: SignatureSchemeName;
}

/**
 * A scheduled job.
 *
 * @example
 * ```ts
 * const lowStockAlerts: JobSpec = {
 *   name: "low-stock-alerts",
 *   handler: "packages/functions/src/jobs/low-stock-alerts.handler",
 *   trigger: { kind: "schedule", expression: "cron(0 6 * * ? *)" },
 *   scopes: ["entity:Product:read", "entity:StockAlert:read", "entity:StockAlert:create"],
 *   timeoutSeconds: 300,
 * };
 * ```
 */
export interface JobSpec extends BaseSpec {
  trigger: ScheduleTrigger;
}

/**
 * One function of the app, declared once in the manifest; stacks, key provisioning, the client's
 * scope guard and the local runtime are all built from it.
 *
 * @example
 * ```ts
 * const expireStaleOrders: FunctionSpec = {
 *   name: "expire-stale-orders",
 *   handler: "packages/functions/src/jobs/expire-stale-orders.handler",
 *   trigger: { kind: "schedule", expression: "rate(15 minutes)" },
 *   scopes: ["entity:Order:read", "entity:Order:update"],
 *   timeoutSeconds: 300,
 * };
 * ```
 */
export type FunctionSpec = WebhookSpec | JobSpec;

const namePattern = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * Checks a manifest and returns it unchanged, or throws one error listing every problem:
 * duplicate names or routes, bad scopes, schedule syntax, timeouts and memory out of Lambda's range,
 * a `rateLimit` that is not a positive number of requests per second.
 *
 * @example
 * ```ts
 * export const manifest = defineManifest([paymentsWebhook, expireStaleOrders]);
 * ```
 */
export function defineManifest<const T extends readonly FunctionSpec[]>(functions: T): T {
  const problems: string[] = [];
  const names = new Set<string>();
  const routes = new Set<string>();
  for (const fn of functions) {
    const at = `function "${fn.name}"`;
    if (!namePattern.test(fn.name)) problems.push(`${at}: name must be kebab-case`);
    if (names.has(fn.name)) problems.push(`${at}: name is used twice`);
    if (fn.name === "admin") problems.push(`${at}: "admin" names the stage's admin-key secret; choose another name`);
    names.add(fn.name);
    if (!/\.[A-Za-z_$][\w$]*$/.test(fn.handler)) problems.push(`${at}: handler must be "path/to/file.exportName"`);
    if (fn.scopes.length === 0) problems.push(`${at}: declares no scopes`);
    for (const name of Object.keys(fn.environment ?? {}))
      if (placementVariables.includes(name))
        problems.push(`${at}: environment may not set ${name}; it is written from where the function runs`);
    for (const ns of fn.locks ?? [])
      if (!/^[a-z][a-z0-9-]*$/.test(ns))
        problems.push(`${at}: lock namespace "${ns}" must be lower-case letters, digits and -`);
    for (const scope of fn.scopes) if (!isScope(scope)) problems.push(`${at}: "${scope}" is not a FLXBL scope`);
    if (!Number.isInteger(fn.timeoutSeconds) || fn.timeoutSeconds < 1 || fn.timeoutSeconds > 900)
      problems.push(`${at}: timeoutSeconds must be an integer in 1..900`);
    const memory = fn.memoryMb ?? 256;
    if (!Number.isInteger(memory) || memory < 128 || memory > 10240)
      problems.push(`${at}: memoryMb must be an integer in 128..10240`);
    const rps = fn.rateLimit?.rps;
    if (fn.rateLimit !== undefined && !(typeof rps === "number" && Number.isFinite(rps) && rps > 0))
      problems.push(`${at}: rateLimit.rps must be a positive number of requests per second`);
    if (fn.trigger.kind === "http") {
      try {
        signatureScheme((fn as WebhookSpec).signature);
      } catch (err) {
        if (!(err instanceof UnknownSignatureSchemeError)) throw err;
        problems.push(`${at}: signature ${err.message}`);
      }
      const route = `${fn.trigger.method} ${fn.trigger.path}`;
      if (routes.has(route)) problems.push(`${at}: route ${route} is used twice`);
      routes.add(route);
      // API Gateway HTTP APIs give up on an integration after 30 s.
      if (fn.timeoutSeconds > 30) problems.push(`${at}: an HTTP function's timeoutSeconds must be <= 30`);
    } else {
      // The parser npm start's scheduler fires with: what passes here runs locally too.
      try {
        parseSchedule(fn.trigger.expression);
      } catch (err) {
        problems.push(`${at}: ${(err as Error).message}`);
      }
    }
  }
  if (problems.length > 0) throw new Error(`Invalid manifest:\n  ${problems.join("\n  ")}`);
  return functions;
}
