import * as z from "zod/mini";

const loopbackHosts = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Why a FLXBL base URL may not be used, or undefined when it may: it must be `https:` (the API
 * key travels in its `Authorization` header), except `http:` on a loopback host (the local
 * emulator) when `allowLoopbackHttp` is set, as it is for functions and `npm start`; stacks and
 * the key tools against AWS refuse `http:` entirely.
 *
 * @example
 * ```ts
 * flxblUrlProblem("http://api.example.com/api/v1"); // "FLXBL_URL must be https: ..."
 * flxblUrlProblem("http://127.0.0.1:4010/api/v1"); // undefined
 * flxblUrlProblem("http://127.0.0.1:4010/api/v1", { allowLoopbackHttp: false }); // "FLXBL_URL must be https: ..."
 * ```
 */
export function flxblUrlProblem(url: string, options: { allowLoopbackHttp?: boolean } = {}): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `FLXBL_URL is not a URL: "${url}"`;
  }
  if (parsed.username || parsed.password) return "FLXBL_URL must not carry credentials (user:password@)";
  if (parsed.protocol === "https:") return undefined;
  if (parsed.protocol === "http:" && (options.allowLoopbackHttp ?? true) && loopbackHosts.test(parsed.hostname))
    return undefined;
  return `FLXBL_URL must be https: (got ${parsed.protocol}//${parsed.host}); the API key would travel in clear text${
    options.allowLoopbackHttp === false ? "" : " (http: is accepted only on a loopback host, for local runs)"
  }`;
}

// zod/mini: the same checks as zod's classic API, a fraction of the bundle (cold starts).
const seconds = (check: z.core.$ZodCheck<number>) => z.pipe(z.coerce.number(), z.int().check(check));
const functionEnvSchema = z.object({
  FLXBL_URL: z
    .string()
    .check(z.refine((url) => flxblUrlProblem(url) === undefined, "must be https: (http: only on loopback)")),
  FLXBL_SECRET_ARN: z.string().check(z.minLength(1)),
  STATE_TABLE_NAME: z.optional(z.string().check(z.minLength(1))),
  /** The deployment stage (`prod`, `dev`, `local`): some rules differ in production. */
  APP_STAGE: z.optional(z.string().check(z.minLength(1))),
  FLXBL_SECRET_TTL_SECONDS: z.optional(seconds(z.positive())),
  FLXBL_SECRET_MAX_STALE_SECONDS: z.optional(seconds(z.nonnegative())),
});

/**
 * The variables {@link readFunctionEnv} reads: what `functionEnvironment` must write.
 *
 * @example
 * ```ts
 * functionEnvKeys.includes("FLXBL_SECRET_ARN"); // true
 * ```
 */
export const functionEnvKeys: readonly string[] = Object.keys(functionEnvSchema.shape);

/**
 * The environment every function gets from its stack (and from `npm start`). Nothing in it is secret.
 *
 * @example
 * ```ts
 * const env: FunctionEnv = {
 *   FLXBL_URL: "https://api.flxbl.dev/api/v1",
 *   FLXBL_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:flxbl-lambda/prod/payments-webhook",
 *   STATE_TABLE_NAME: "flxbl-lambda-state",
 *   APP_STAGE: "prod",
 * };
 * ```
 */
export type FunctionEnv = z.infer<typeof functionEnvSchema>;

/**
 * Reads and checks a function's environment once, at cold start, so a missing variable fails
 * with its name rather than as an odd error on the first FLXBL call.
 *
 * @example
 * ```ts
 * const env = readFunctionEnv(process.env);
 * ```
 */
export function readFunctionEnv(source: Record<string, string | undefined>): FunctionEnv {
  // An empty value means "not set" (a `.env` line `NAME=`), so the default applies.
  const given = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = functionEnvSchema.safeParse(given);
  if (!parsed.success) {
    const names = parsed.error.issues.map((i) => `${i.path.join(".")} (${i.message})`).join(", ");
    throw new Error(`Function environment is incomplete or invalid: ${names}`);
  }
  return parsed.data;
}

/**
 * The state table's name, for functions that need it (idempotency, locks, checkpoints); a clear
 * error at cold start when the stack did not set it.
 *
 * @example
 * ```ts
 * const lock = new KeyedLock({ tableName: stateTableName(env) });
 * ```
 */
export function stateTableName(env: FunctionEnv): string {
  if (!env.STATE_TABLE_NAME) throw new Error("Function environment lacks STATE_TABLE_NAME (the state table)");
  return env.STATE_TABLE_NAME;
}
