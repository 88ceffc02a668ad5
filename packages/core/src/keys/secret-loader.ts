import type { Logger } from "@aws-lambda-powertools/logger";
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import * as z from "zod/mini";
import { isTransientAwsError, sharedSecretsManagerClient } from "../aws.js";
import { contractDefaults } from "../contract.js";
import type { ApiKeySource } from "../flxbl/client.js";
import { metricNames } from "../observe/catalog.js";
import { activeTelemetry } from "../observe/telemetry.js";

/**
 * What a function's secret holds: its FLXBL API key and, for webhooks, the signing secrets
 * of its sender (several while a sender rolls its secret).
 *
 * @example
 * ```ts
 * const { apiKey, signingSecrets }: FunctionSecret = await secretLoader({ secretId: env.FLXBL_SECRET_ARN }).get();
 * ```
 */
export interface FunctionSecret {
  apiKey: string;
  signingSecrets: string[];
}

/**
 * Base of the errors a secret load throws. Names the secret, never its value.
 *
 * @example
 * ```ts
 * const secret = await loader.get().catch((err) => {
 *   if (err instanceof SecretError) logger.error("cannot load the secret", { secretId: err.secretId, reason: err.name });
 *   throw err;
 * });
 * ```
 */
export class SecretError extends Error {
  override name = "SecretError";
  constructor(
    readonly secretId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The secret does not exist (or has no `AWSCURRENT` value).
 *
 * @example
 * ```ts
 * await secretLoader({ secretId: "flxbl-lambda/prod/missing" }).get();
 * // throws SecretNotFoundError: Secret flxbl-lambda/prod/missing does not exist; create it (see the README's deploy steps)
 * ```
 */
export class SecretNotFoundError extends SecretError {
  override name = "SecretNotFoundError";
}

/**
 * The function's role may not read the secret (or decrypt it).
 *
 * @example
 * ```ts
 * await loader.get().catch((err) => {
 *   if (err instanceof SecretAccessDeniedError) logger.error("fix the function's IAM policy", { secretId: err.secretId });
 *   throw err;
 * });
 * ```
 */
export class SecretAccessDeniedError extends SecretError {
  override name = "SecretAccessDeniedError";
}

/**
 * The value is neither the bare key nor JSON `{"apiKey": ..., "signingSecrets": [...]}`.
 *
 * @example
 * ```ts
 * parseSecretValue("my-secret", '{"apiKey": 42}');
 * // throws SecretMalformedError: Secret my-secret has the wrong shape at apiKey; expected {"apiKey": string, ...}
 * ```
 */
export class SecretMalformedError extends SecretError {
  override name = "SecretMalformedError";
}

/**
 * The value parsed, but its API key is empty.
 *
 * @example
 * ```ts
 * parseSecretValue("my-secret", '{"apiKey": " "}'); // throws SecretEmptyKeyError
 * ```
 */
export class SecretEmptyKeyError extends SecretError {
  override name = "SecretEmptyKeyError";
}

/**
 * The secret is scheduled for deletion: reads fail until it is restored. Not transient.
 *
 * @example
 * ```ts
 * await loader.get().catch((err) => {
 *   if (err instanceof SecretDeletedError) logger.error("restore the secret or provision it again", { secretId: err.secretId });
 *   throw err;
 * });
 * ```
 */
export class SecretDeletedError extends SecretError {
  override name = "SecretDeletedError";
}

/**
 * Secrets Manager failed in a way that may pass (throttling, network, 5xx).
 *
 * @example
 * ```ts
 * // httpErrors answers it 503 with Retry-After, so the sender tries again:
 * classifyError(new SecretUnavailableError(secretId, "Reading secret failed (ThrottlingException)")); // { kind: "retry", retryAfterSeconds: 5 }
 * ```
 */
export class SecretUnavailableError extends SecretError {
  override name = "SecretUnavailableError";
}

const secretJson = z.object({
  apiKey: z.optional(z.string()),
  signingSecrets: z.optional(z.array(z.string().check(z.minLength(1)))),
});

/**
 * Parses a secret value: JSON `{apiKey, signingSecrets?}` or a bare key string.
 *
 * @example
 * ```ts
 * parseSecretValue(secretId, '{"apiKey":"flxbl_...","signingSecrets":["whsec_..."]}'); // { apiKey: "flxbl_...", signingSecrets: ["whsec_..."] }
 * parseSecretValue(secretId, "flxbl_..."); // { apiKey: "flxbl_...", signingSecrets: [] }
 * ```
 */
export function parseSecretValue(secretId: string, value: string | undefined): FunctionSecret {
  if (value === undefined) {
    throw new SecretMalformedError(
      secretId,
      `Secret ${secretId} has no SecretString (binary secrets are not supported)`,
    );
  }
  const text = value.trim();
  let secret: FunctionSecret;
  if (text.startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new SecretMalformedError(
        secretId,
        `Secret ${secretId} starts like JSON but does not parse; store {"apiKey": "flxbl_...", "signingSecrets": [...]} or the bare key`,
      );
    }
    const parsed = secretJson.safeParse(json);
    if (!parsed.success) {
      const where = parsed.error.issues.map((i) => i.path.join(".") || "(root)").join(", ");
      throw new SecretMalformedError(
        secretId,
        `Secret ${secretId} has the wrong shape at ${where}; expected {"apiKey": string, "signingSecrets"?: string[]}`,
      );
    }
    secret = { apiKey: (parsed.data.apiKey ?? "").trim(), signingSecrets: parsed.data.signingSecrets ?? [] };
  } else {
    secret = { apiKey: text, signingSecrets: [] };
  }
  if (secret.apiKey === "") throw new SecretEmptyKeyError(secretId, `Secret ${secretId} holds an empty FLXBL API key`);
  return secret;
}

/**
 * Where {@link SecretLoader} reports reads that failed while it kept serving the last good value.
 * A Powertools Logger.
 *
 * @example
 * ```ts
 * const logger: SecretLoaderLogger = createLogger({ serviceName: "payments-webhook" });
 * ```
 */
export type SecretLoaderLogger = Pick<Logger, "warn">;

/**
 * How to build a {@link SecretLoader}.
 *
 * @example
 * ```ts
 * const options: SecretLoaderOptions = { secretId: env.FLXBL_SECRET_ARN, ttlMs: 60_000 };
 * const loader = secretLoader(options);
 * ```
 */
export interface SecretLoaderOptions {
  /** Name or ARN of the function's secret (its `FLXBL_SECRET_ARN`). */
  secretId: string;
  /**
   * The SDK client; it reads `AWS_ENDPOINT_URL_SECRETS_MANAGER`, so tests and `npm start`
   * reach a local endpoint with no code change.
   * @default the container's shared client, with request timeouts (`sharedSecretsManagerClient()`)
   */
  client?: SecretsManagerClient;
  /** How long a value is served from memory before it is read again. @default 300000 (5 minutes) */
  ttlMs?: number;
  /**
   * How long past its TTL the last good value keeps being served while Secrets Manager fails
   * for a transient reason (throttling, 5xx, network, timeout) or holds a malformed new value;
   * 0 turns stale serving off. @default 3600000 (an hour: `FLXBL_SECRET_MAX_STALE_SECONDS`)
   */
  maxStaleMs?: number;
  /**
   * Longest single `GetSecretValue`, whatever the client's own settings, so a hung endpoint
   * costs an invocation at most this much. @default 2000
   */
  readTimeoutMs?: number;
  /** Warnings for reads that failed (the secret's id and the error, never a value). @default none */
  logger?: SecretLoaderLogger;
  /** Clock in epoch ms. @default Date.now */
  now?: () => number;
}

/** After a failed read, the next one waits 1 s, 2 s, 4 s ... up to these caps. */
const retryCapWithValueMs = 60_000;
/** With nothing to serve, failures are remembered only briefly (the negative cache). */
const retryCapWithoutValueMs = 5_000;
/** A 401 re-reads the secret at most this often per container. */
const authRefreshFloorMs = 10_000;

interface Failure {
  error: SecretError;
  attempts: number;
  /** Epoch ms before which no new read is started. */
  retryAt: number;
}

/**
 * Reads one secret with a TTL cache, one shared in-flight read, and forced refresh, and rides out
 * Secrets Manager outages. Functions use the process-wide one from {@link secretLoader}; `new`
 * gives a private cache (the rotation function's admin key, tests).
 *
 * - A read that fails for a transient reason, or returns a malformed value, while a good value is
 *   cached: the good value keeps being served for up to `maxStaleMs` past its TTL, one warning is
 *   logged per failed read, and reads are retried with backoff (1 s, 2 s, ... 60 s) by later
 *   calls, in the background, without making them wait.
 * - With no good value, a failure is remembered for a moment (1 s doubling to 5 s), so a flood
 *   of requests (forged webhooks, say) cannot become one `GetSecretValue` each.
 * - Not found, access denied, scheduled for deletion: thrown at once, never served stale.
 *
 * Written here rather than on Powertools Parameters or middy's secrets-manager middleware: both
 * cache values, but neither shares one in-flight read between concurrent cold callers, serves the
 * last good value through an outage, or refreshes "only if the cached key is the one FLXBL just
 * refused", which keeps a burst of 401s during a rotation down to a single Secrets Manager call.
 *
 * @example
 * ```ts
 * const adminKey = new SecretLoader({ secretId: adminSecretName({ app: appName, stage: "prod" }), ttlMs: 60_000 });
 * const admin = new FlxblAdmin({ baseUrl: env.FLXBL_URL, adminKey: (await adminKey.get()).apiKey });
 * ```
 */
export class SecretLoader {
  readonly secretId: string;
  readonly #client: SecretsManagerClient;
  readonly #ttlMs: number;
  readonly #maxStaleMs: number;
  readonly #readTimeoutMs: number;
  readonly #logger: SecretLoaderLogger | undefined;
  readonly #now: () => number;
  #cached: { value: FunctionSecret; at: number } | undefined;
  #inFlight: Promise<FunctionSecret> | undefined;
  #failure: Failure | undefined;
  /** Epoch ms when the last read was started (the floor for 401 refreshes). */
  #lastReadAt = Number.NEGATIVE_INFINITY;
  /** Reads made against Secrets Manager (for tests and the bench). */
  fetches = 0;
  /** Calls answered with a value past its TTL because Secrets Manager failed. */
  staleServes = 0;

  constructor(options: SecretLoaderOptions) {
    this.secretId = options.secretId;
    this.#client = options.client ?? sharedSecretsManagerClient();
    this.#ttlMs = options.ttlMs ?? contractDefaults.secretTtlSeconds * 1000;
    this.#maxStaleMs = options.maxStaleMs ?? contractDefaults.maxStaleSeconds * 1000;
    this.#readTimeoutMs = options.readTimeoutMs ?? 2_000;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /** The secret, from memory while fresh, else read once for all concurrent callers. */
  get(): Promise<FunctionSecret> {
    const cached = this.#cached;
    if (cached && this.#now() - cached.at < this.#ttlMs) return Promise.resolve(cached.value);
    return this.#load();
  }

  /** Reads the secret again now (shared with any read already in flight; held back while failing). */
  refresh(): Promise<FunctionSecret> {
    return this.#load();
  }

  /**
   * Reads the secret again unless the cached value is younger than `ms`: for a caller that
   * suspects a stale value (a signature that matches no cached secret) without letting every
   * forged request cost a Secrets Manager call.
   */
  refreshIfOlderThan(ms: number): Promise<FunctionSecret> {
    const cached = this.#cached;
    if (cached && this.#now() - cached.at < ms) return Promise.resolve(cached.value);
    return this.#load();
  }

  /** Starts a read at cold start without waiting; a failure surfaces on the next {@link get}. */
  prefetch(): void {
    this.get().catch(() => undefined);
  }

  /** Forgets the cached value and any remembered failure (tests). */
  clear(): void {
    this.#cached = undefined;
    this.#inFlight = undefined;
    this.#failure = undefined;
    this.#lastReadAt = Number.NEGATIVE_INFINITY;
  }

  /**
   * The API key as the FLXBL client's key source: on a 401 it re-reads the secret unless the
   * cache already holds a different key than the refused one, and at most once per 10 s (a key
   * FLXBL keeps refusing must not cost a Secrets Manager call per request). When the refused key
   * is all it has because Secrets Manager is failing, it throws `SecretUnavailableError` (503).
   */
  apiKeySource(): ApiKeySource {
    return {
      get: async () => (await this.get()).apiKey,
      refresh: async (rejected) => {
        const cached = this.#cached?.value.apiKey;
        if (cached !== undefined && cached !== rejected) return cached;
        // A read already under way (another 401 started it) is the refresh this one wants too.
        const fresh =
          this.#inFlight || cached === undefined || this.#now() - this.#lastReadAt >= authRefreshFloorMs
            ? (await this.#load()).apiKey
            : cached;
        // FLXBL refused the key we hold and Secrets Manager cannot give us another: an outage
        // (answered 503, retried), not a bad key.
        if (fresh === rejected && this.#failure?.error instanceof SecretUnavailableError)
          throw new SecretUnavailableError(
            this.secretId,
            `FLXBL refused the cached key of ${this.secretId}, and the secret cannot be read now for a new one`,
          );
        return fresh;
      },
    };
  }

  /** The cached value while it may still be served past its TTL, else undefined. */
  #servable(): FunctionSecret | undefined {
    const cached = this.#cached;
    if (!cached || this.#now() - cached.at >= this.#ttlMs + this.#maxStaleMs) return undefined;
    return cached.value;
  }

  #load(): Promise<FunctionSecret> {
    const failure = this.#failure;
    // While reads are failing, callers get the last good value at once, whatever is in flight.
    const stale = failure?.error instanceof SecretUnavailableError ? this.#servable() : undefined;
    if (this.#inFlight) {
      if (stale) return this.#serveStale(stale);
      return this.#orLastGood(this.#inFlight);
    }
    if (failure && this.#now() < failure.retryAt) {
      // Backing off after a failure: no new read yet.
      if (stale) return this.#serveStale(stale);
      return Promise.reject(failure.error);
    }
    const started = this.#now();
    this.#lastReadAt = started;
    const load = this.#read()
      .then((value) => {
        this.#cached = { value, at: started };
        this.#failure = undefined;
        return value;
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
    this.#inFlight = load;
    if (stale) {
      // Still failing: retry in the background; this caller gets the last good value now.
      load.catch(() => undefined);
      return this.#serveStale(stale);
    }
    return this.#orLastGood(load);
  }

  #serveStale(value: FunctionSecret): Promise<FunctionSecret> {
    this.staleServes++;
    activeTelemetry()?.count(metricNames.keys.staleServes);
    return Promise.resolve(value);
  }

  /** The read's value, or the last good one when the read fails for a transient reason. */
  #orLastGood(read: Promise<FunctionSecret>): Promise<FunctionSecret> {
    return read.catch((err: unknown) => {
      const fallback = err instanceof SecretUnavailableError ? this.#servable() : undefined;
      if (!fallback) throw err;
      this.staleServes++;
      activeTelemetry()?.count(metricNames.keys.staleServes);
      return fallback;
    });
  }

  async #read(): Promise<FunctionSecret> {
    this.fetches++;
    try {
      let value: string | undefined;
      try {
        const out = await this.#client.send(new GetSecretValueCommand({ SecretId: this.secretId }), {
          abortSignal: AbortSignal.timeout(this.#readTimeoutMs),
        });
        value = out.SecretString;
      } catch (err) {
        throw mapSdkError(this.secretId, err);
      }
      try {
        return parseSecretValue(this.secretId, value);
      } catch (err) {
        // A bad new value while a good one is cached is ridden out like an outage: someone is
        // mid-edit, or wrote the wrong thing; the functions keep working meanwhile.
        if (this.#cached && err instanceof SecretError)
          throw new SecretUnavailableError(this.secretId, err.message, { cause: err });
        throw err;
      }
    } catch (err) {
      this.#recordFailure(err);
      throw err;
    }
  }

  #recordFailure(err: unknown): void {
    activeTelemetry()?.count(metricNames.keys.readFailures);
    const error =
      err instanceof SecretError
        ? err
        : new SecretUnavailableError(this.secretId, `Reading secret ${this.secretId} failed`, { cause: err });
    const attempts = (this.#failure?.attempts ?? 0) + 1;
    const servable = error instanceof SecretUnavailableError ? this.#servable() : undefined;
    const cap = servable ? retryCapWithValueMs : retryCapWithoutValueMs;
    const waitMs = Math.min(cap, 1_000 * 2 ** (attempts - 1));
    this.#failure = { error, attempts, retryAt: this.#now() + waitMs };
    if (servable) {
      this.#logger?.warn("secret read failed; serving the last good value", {
        secretId: this.secretId,
        reason: error.message,
        attempt: attempts,
        staleForMs: this.#now() - ((this.#cached?.at ?? 0) + this.#ttlMs),
        nextAttemptInMs: waitMs,
      });
    } else {
      this.#logger?.warn("secret read failed", {
        secretId: this.secretId,
        reason: error.message,
        attempt: attempts,
        nextAttemptInMs: waitMs,
      });
    }
  }
}

function mapSdkError(secretId: string, err: unknown): SecretError {
  const name = (err as { name?: string })?.name ?? "Error";
  const message = (err as { message?: string })?.message ?? "";
  if (name === "ResourceNotFoundException")
    return new SecretNotFoundError(
      secretId,
      `Secret ${secretId} does not exist; create it (see the README's deploy steps)`,
      {
        cause: err,
      },
    );
  if (name === "AccessDeniedException" || name === "AccessDenied")
    return new SecretAccessDeniedError(
      secretId,
      `This function may not read secret ${secretId}; check its IAM policy (secretsmanager:GetSecretValue on that ARN)`,
      { cause: err },
    );
  if (name === "DecryptionFailure")
    return new SecretAccessDeniedError(secretId, `Secret ${secretId} could not be decrypted with its KMS key`, {
      cause: err,
    });
  if (name === "InvalidRequestException" && /deletion|deleted/i.test(message))
    return new SecretDeletedError(
      secretId,
      `Secret ${secretId} is scheduled for deletion; restore it (aws secretsmanager restore-secret --secret-id ${secretId}) or provision it again`,
      { cause: err },
    );
  if (!isTransientAwsError(err))
    return new SecretError(secretId, `Reading secret ${secretId} was refused (${name}): ${message}`, { cause: err });
  return new SecretUnavailableError(secretId, `Reading secret ${secretId} failed (${name}); it may pass on retry`, {
    cause: err,
  });
}

const loaders = new Map<string, SecretLoader>();

/**
 * The process-wide loader for a secret, so every middleware and warm invocation shares one
 * cache per secret.
 *
 * @example
 * ```ts
 * const loader = secretLoader({ secretId: process.env.FLXBL_SECRET_ARN! });
 * const { apiKey } = await loader.get();
 * ```
 */
export function secretLoader(options: SecretLoaderOptions): SecretLoader {
  let loader = loaders.get(options.secretId);
  if (!loader) {
    loader = new SecretLoader(options);
    loaders.set(options.secretId, loader);
  }
  return loader;
}

/**
 * Drops every shared loader and its cache (tests, like Powertools' `clearCaches`).
 *
 * @example
 * ```ts
 * import { afterEach } from "vitest";
 *
 * afterEach(() => clearSecretLoaders());
 * ```
 */
export function clearSecretLoaders(): void {
  loaders.clear();
}
