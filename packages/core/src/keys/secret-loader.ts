import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { z } from "zod/mini";
import type { ApiKeySource } from "../flxbl/client.js";

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
   * reach a local endpoint with no code change. @default a new `SecretsManagerClient()`
   */
  client?: SecretsManagerClient;
  /** How long a value is served from memory before it is read again. @default 300000 (5 minutes) */
  ttlMs?: number;
  /** Clock in epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * Reads one secret with a TTL cache, one shared in-flight read, and forced refresh. Functions
 * use the process-wide one from {@link secretLoader}; `new` gives a private cache (the rotation
 * function's admin key, tests).
 *
 * Written here rather than on Powertools Parameters or middy's secrets-manager middleware: both
 * cache values, but neither shares one in-flight read between concurrent cold callers, and
 * neither can refresh "only if the cached key is the one FLXBL just refused", which keeps a
 * burst of 401s during a rotation down to a single Secrets Manager call.
 *
 * @example
 * ```ts
 * const adminKey = new SecretLoader({ secretId: env.ADMIN_SECRET_ARN, ttlMs: 60_000 });
 * const admin = new FlxblAdmin({ baseUrl: env.FLXBL_URL, adminKey: (await adminKey.get()).apiKey });
 * ```
 */
export class SecretLoader {
  readonly secretId: string;
  readonly #client: SecretsManagerClient;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #cached: { value: FunctionSecret; at: number } | undefined;
  #inFlight: Promise<FunctionSecret> | undefined;
  /** Reads made against Secrets Manager (for tests and the bench). */
  fetches = 0;

  constructor(options: SecretLoaderOptions) {
    this.secretId = options.secretId;
    this.#client = options.client ?? new SecretsManagerClient({});
    this.#ttlMs = options.ttlMs ?? 300_000;
    this.#now = options.now ?? Date.now;
  }

  /** The secret, from memory while fresh, else read once for all concurrent callers. */
  get(): Promise<FunctionSecret> {
    const cached = this.#cached;
    if (cached && this.#now() - cached.at < this.#ttlMs) return Promise.resolve(cached.value);
    return this.#load();
  }

  /** Reads the secret again now (shared with any read already in flight). */
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

  /** Forgets the cached value (tests). */
  clear(): void {
    this.#cached = undefined;
    this.#inFlight = undefined;
  }

  /**
   * The API key as the FLXBL client's key source: on a 401 it re-reads the secret unless the
   * cache already holds a different key than the refused one.
   */
  apiKeySource(): ApiKeySource {
    return {
      get: async () => (await this.get()).apiKey,
      refresh: async (rejected) => {
        const cached = this.#cached?.value.apiKey;
        if (cached !== undefined && cached !== rejected) return cached;
        return (await this.refresh()).apiKey;
      },
    };
  }

  #load(): Promise<FunctionSecret> {
    if (this.#inFlight) return this.#inFlight;
    const started = this.#now();
    const load = this.#read()
      .then((value) => {
        this.#cached = { value, at: started };
        return value;
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
    this.#inFlight = load;
    return load;
  }

  async #read(): Promise<FunctionSecret> {
    this.fetches++;
    let value: string | undefined;
    try {
      const out = await this.#client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
      value = out.SecretString;
    } catch (err) {
      throw mapSdkError(this.secretId, err);
    }
    return parseSecretValue(this.secretId, value);
  }
}

function mapSdkError(secretId: string, err: unknown): SecretError {
  const name = (err as { name?: string })?.name ?? "Error";
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
 * afterEach(() => clearSecretLoaders());
 * ```
 */
export function clearSecretLoaders(): void {
  loaders.clear();
}
