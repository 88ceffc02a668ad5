import { z } from "zod/mini";

// zod/mini: the same checks as zod's classic API, a fraction of the bundle (cold starts).
const functionEnvSchema = z.object({
  FLXBL_URL: z.url({ protocol: /^https?$/ }),
  FLXBL_SECRET_ARN: z.string().check(z.minLength(1)),
  STATE_TABLE_NAME: z.optional(z.string().check(z.minLength(1))),
  FLXBL_SECRET_TTL_SECONDS: z.optional(z.pipe(z.coerce.number(), z.int().check(z.positive()))),
});

/**
 * The environment every function gets from its stack (and from `npm start`). Nothing in it is secret.
 *
 * @example
 * ```ts
 * const env: FunctionEnv = {
 *   FLXBL_URL: "https://api.flxbl.dev/api/v1",
 *   FLXBL_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:flxbl-lambda/prod/payments-webhook",
 *   STATE_TABLE_NAME: "flxbl-lambda-state",
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
  const parsed = functionEnvSchema.safeParse(source);
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
