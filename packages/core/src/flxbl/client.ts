import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@aws-lambda-powertools/logger";
import {
  type CallSite,
  type FieldError,
  FlxblAuthError,
  FlxblConflictError,
  type FlxblError,
  FlxblForbiddenError,
  FlxblNetworkError,
  FlxblNotFoundError,
  FlxblRateLimitError,
  FlxblResponseError,
  FlxblScopeError,
  FlxblServerError,
  FlxblTimeoutError,
  FlxblValidationError,
} from "./errors.js";
import { grants, type ScopeNeed, scopeFor } from "./scopes.js";
import type { CallOptions, Edge, FlxblRecord, ListPage, PageOptions, QueryOptions } from "./types.js";

/**
 * Where the client gets its API key. `refresh` is called once when FLXBL answers 401 with
 * `rejectedKey`, so a rotated key is picked up without failing the call.
 *
 * @example
 * ```ts
 * const fixed: ApiKeySource = { get: async () => localKey };
 * const rotating: ApiKeySource = secretLoader({ secretId: env.FLXBL_SECRET_ARN }).apiKeySource();
 * ```
 */
export interface ApiKeySource {
  get(): Promise<string>;
  refresh?(rejectedKey: string): Promise<string>;
}

/**
 * What the client logs with: retries and refreshes, never the key. A Powertools Logger.
 *
 * @example
 * ```ts
 * const logger: ClientLogger = createLogger({ serviceName: "expire-stale-orders" });
 * const flxbl = createFlxblClient({ baseUrl: env.FLXBL_URL, apiKey, logger });
 * ```
 */
export type ClientLogger = Pick<Logger, "debug" | "warn">;

/**
 * Retry policy for transient failures (429, 5xx, network).
 *
 * @example
 * ```ts
 * const retry: RetryOptions = { attempts: 3, maxDelayMs: 2000 };
 * const flxbl = createFlxblClient({ baseUrl: env.FLXBL_URL, apiKey, retry });
 * ```
 */
export interface RetryOptions {
  /** Attempts in all, the first included. @default 4 */
  attempts?: number;
  /** Backoff base: attempt n waits a random time in [0, base * 2^(n-1)] (full jitter). @default 100 */
  baseDelayMs?: number;
  /** Cap on one backoff wait (a longer `Retry-After` still wins). @default 5000 */
  maxDelayMs?: number;
}

/**
 * How to build a client. Only `baseUrl` and `apiKey` are required.
 *
 * @example
 * ```ts
 * const options: FlxblClientOptions = {
 *   baseUrl: env.FLXBL_URL,
 *   apiKey: secretLoader({ secretId: env.FLXBL_SECRET_ARN }).apiKeySource(),
 *   scopes: ["entity:Order:read"],
 *   retry: { attempts: 3 },
 * };
 * const flxbl = createFlxblClient(options);
 * ```
 */
export interface FlxblClientOptions {
  /** FLXBL's API base, e.g. `https://api.flxbl.dev/api/v1` (the `FLXBL_URL` of a function). */
  baseUrl: string;
  /** The key itself, or where to get it (see {@link ApiKeySource}). */
  apiKey: string | ApiKeySource;
  /**
   * The scopes the function declared. When set, a call none of them grants throws
   * {@link FlxblScopeError} before anything is sent. @default undefined (no guard)
   */
  scopes?: readonly string[];
  /** @default globalThis.fetch (undici: pooled keep-alive connections, reused across warm invocations) */
  fetch?: typeof fetch;
  /** Retries of transient failures; each field has its own default (see {@link RetryOptions}). */
  retry?: RetryOptions;
  /**
   * Epoch milliseconds by which every call must be over, e.g. the Lambda deadline. Calls and
   * retries that would run past `deadline - safetyMarginMs` fail fast with {@link FlxblTimeoutError}.
   * @default undefined (no deadline)
   */
  deadline?: number;
  /** Time kept back before the deadline for the handler to answer. @default 500 */
  safetyMarginMs?: number;
  /** Longest single attempt. @default 10000 */
  attemptTimeoutMs?: number;
  /** Aborts every call of this client (e.g. middy's timeout signal). */
  signal?: AbortSignal;
  /** Where retries and key refreshes are logged. @default undefined (no logging) */
  logger?: ClientLogger;
  /** Random source in [0, 1) for jitter (tests pin it). @default Math.random */
  random?: () => number;
  /** Clock in epoch ms. @default Date.now */
  now?: () => number;
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

interface RequestSpec {
  method: Method;
  /** Path below the base URL, already encoded. */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  need: ScopeNeed;
  /** Whether sending it twice is harmless (reads, queries, PUT, PATCH with absolute values, DELETE). */
  idempotent: boolean;
  signal?: AbortSignal | undefined;
  onUnknownOutcome?: (() => void) | undefined;
}

const defaults = {
  attempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  safetyMarginMs: 500,
  attemptTimeoutMs: 10_000,
};

const enc = encodeURIComponent;

/** Reads `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
function retryAfterMs(headers: Headers, now: number): number | undefined {
  const value = headers.get("retry-after");
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** FLXBL's `message` may be a string or a string[] (NestJS validation); bodies may not be JSON at all. */
function readErrorBody(text: string): { message: string | undefined; fieldErrors: FieldError[] } {
  try {
    const body = JSON.parse(text) as { message?: unknown; errors?: unknown; error?: unknown };
    const raw = body.message ?? body.error;
    const message = Array.isArray(raw) ? raw.map(String).join("; ") : typeof raw === "string" ? raw : undefined;
    const fieldErrors = Array.isArray(body.errors)
      ? body.errors.filter((e): e is FieldError => typeof e === "object" && e !== null && "field" in e)
      : [];
    return { message, fieldErrors };
  } catch {
    const trimmed = text.trim().slice(0, 200);
    return { message: trimmed === "" ? undefined : trimmed, fieldErrors: [] };
  }
}

function errorFor(site: CallSite, res: Response, text: string, now: number): FlxblError {
  const { message, fieldErrors } = readErrorBody(text);
  const status = res.status;
  const opts = { status, flxblMessage: message };
  if (status === 401) return new FlxblAuthError(site, "was refused: the API key is missing, unknown or revoked", opts);
  if (status === 403) return new FlxblForbiddenError(site, "was refused: the API key lacks the scope", opts);
  if (status === 404) return new FlxblNotFoundError(site, "found nothing", opts);
  if (status === 409) return new FlxblConflictError(site, "conflicts with existing data", opts);
  if (status === 400 || status === 422)
    return new FlxblValidationError(site, "was rejected as invalid", { ...opts, fieldErrors });
  if (status === 429)
    return new FlxblRateLimitError(site, "was rate limited", { ...opts, retryAfterMs: retryAfterMs(res.headers, now) });
  if (status >= 500)
    return new FlxblServerError(site, "failed on the server", {
      ...opts,
      retryAfterMs: retryAfterMs(res.headers, now),
    });
  return new FlxblResponseError(site, "answered with an unexpected status", opts);
}

/** Whether the request surely never reached FLXBL (so even a create may be sent again). */
function neverSent(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } })?.cause?.code;
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "UND_ERR_CONNECT_TIMEOUT";
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A typed FLXBL Dynamic API client with retries, rate-limit handling, a deadline and a scope
 * guard. Create one per container and bind it per invocation with {@link FlxblClient.bind}.
 *
 * @example
 * ```ts
 * const flxbl = createFlxblClient({
 *   baseUrl: process.env.FLXBL_URL!,
 *   apiKey: keySource,
 *   scopes: ["entity:Order:read", "entity:Order:update"],
 * });
 * const orders = flxbl.bind({ deadline: Date.now() + context.getRemainingTimeInMillis() }).entity<Order>("Order");
 * const pending = await orders.query({ where: { status: "pending" }, limit: 50 });
 * ```
 */
export function createFlxblClient(options: FlxblClientOptions): FlxblClient {
  return new FlxblClient(options);
}

/**
 * The FLXBL client: key source, options and connections shared by every entity it hands out.
 * Made by {@link createFlxblClient}; a handler's `context.flxbl` is one bound to the invocation.
 *
 * @example
 * ```ts
 * const flxbl: FlxblClient = createFlxblClient({ baseUrl: env.FLXBL_URL, apiKey: loader.apiKeySource() });
 * const order = await flxbl.entity<Order>("Order").get(orderId);
 * ```
 */
export class FlxblClient {
  readonly #options: FlxblClientOptions;
  readonly #base: string;
  readonly #keys: ApiKeySource;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #random: () => number;

  /** Use {@link createFlxblClient}. */
  constructor(options: FlxblClientOptions) {
    if (!/^https?:\/\//.test(options.baseUrl))
      throw new TypeError(`FLXBL baseUrl must be an http(s) URL, got "${options.baseUrl}"`);
    this.#options = options;
    this.#base = options.baseUrl.replace(/\/+$/, "");
    const key = options.apiKey;
    this.#keys = typeof key === "string" ? { get: async () => key } : key;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** The scopes this client guards with, if any. */
  get scopes(): readonly string[] | undefined {
    return this.#options.scopes;
  }

  /**
   * A client sharing this one's key source and connections, with a deadline and abort signal
   * for one invocation.
   *
   * @example
   * ```ts
   * const perCall = flxbl.bind({ deadline: Date.now() + context.getRemainingTimeInMillis(), signal });
   * ```
   */
  bind(binding: { deadline?: number; signal?: AbortSignal }): FlxblClient {
    return new FlxblClient({ ...this.#options, apiKey: this.#keys, ...binding });
  }

  /**
   * Typed access to one entity's Dynamic API. Names are case-sensitive (`Order`, not `orders`).
   *
   * @example
   * ```ts
   * const order = await flxbl.entity<Order>("Order").get(id);
   * ```
   */
  entity<T extends object>(name: string): EntityClient<T> {
    return new EntityClient<T>(this, name);
  }

  /** Sends one request with the scope guard, retries and deadline; resolves to the parsed body. */
  async request<R>(spec: RequestSpec): Promise<R> {
    const site: CallSite = { method: spec.method, path: spec.path };
    const { scopes } = this.#options;
    if (scopes && !grants(scopes, spec.need)) throw new FlxblScopeError(site, scopeFor(spec.need), scopes);

    const attempts = Math.max(1, this.#options.retry?.attempts ?? defaults.attempts);
    const base = this.#options.retry?.baseDelayMs ?? defaults.baseDelayMs;
    const cap = this.#options.retry?.maxDelayMs ?? defaults.maxDelayMs;
    const margin = this.#options.safetyMarginMs ?? defaults.safetyMarginMs;
    const cutoff = this.#options.deadline === undefined ? Number.POSITIVE_INFINITY : this.#options.deadline - margin;
    const signals = [spec.signal, this.#options.signal].filter((s): s is AbortSignal => s !== undefined);
    const caller = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);

    let url = `${this.#base}${spec.path}`;
    const query = Object.entries(spec.query ?? {}).filter(([, v]) => v !== undefined);
    if (query.length > 0) url += `?${new URLSearchParams(query.map(([k, v]): [string, string] => [k, String(v)]))}`;
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);

    let lastError: FlxblError | undefined;
    let refreshed = false;
    let freshKey: string | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const left = cutoff - this.#now();
      if (left <= 0) {
        throw new FlxblTimeoutError(site, "was not sent: no time left before the deadline", {
          cause: lastError,
          retryAfterMs: retryHint(lastError),
        });
      }
      if (caller?.aborted) throw new FlxblTimeoutError(site, "was aborted by the caller", { cause: lastError });
      const key = freshKey ?? (await this.#keys.get());
      freshKey = undefined;
      // One controller per attempt, its timer cleared and its listener removed when the attempt
      // ends: AbortSignal.timeout/any would leave a 10-s timer and a retained signal per call.
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(
        () => {
          timedOut = true;
          controller.abort(new DOMException("FLXBL call timed out", "TimeoutError"));
        },
        Math.min(left, this.#options.attemptTimeoutMs ?? defaults.attemptTimeoutMs),
      );
      const onCallerAbort = () => controller.abort(caller?.reason);
      caller?.addEventListener("abort", onCallerAbort, { once: true });
      const signal = controller.signal;

      let res: Response;
      let text: string;
      try {
        res = await this.#fetch(url, {
          method: spec.method,
          headers: {
            authorization: `Bearer ${key}`,
            accept: "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          body,
          signal,
          // Following a redirect would send the key wherever it points.
          redirect: "manual",
        });
        text = await res.text();
      } catch (err) {
        const unknownOutcome = !neverSent(err);
        // A write that may have been sent can still land after this; a read changes nothing.
        if (unknownOutcome && spec.need.op !== "read") spec.onUnknownOutcome?.();
        // The caller's reason (a lost lock, middy's timeout) says more than fetch's AbortError.
        if (caller?.aborted)
          throw new FlxblTimeoutError(site, "was aborted by the caller", {
            cause: caller.reason instanceof Error ? caller.reason : err,
          });
        if (timedOut) {
          lastError = new FlxblTimeoutError(site, "got no answer in time", { cause: err, outcomeUnknown: true });
          if (!spec.idempotent) throw lastError;
        } else {
          lastError = new FlxblNetworkError(site, `could not reach FLXBL (${describeNetworkError(err)})`, {
            cause: err,
            outcomeUnknown: unknownOutcome,
          });
          // A create whose request may have arrived is not sent again: it could be applied twice.
          if (!spec.idempotent && unknownOutcome) throw lastError;
        }
        if (attempt === attempts) throw lastError;
        await this.#backoff(site, attempt, base, cap, undefined, cutoff, caller, lastError);
        continue;
      } finally {
        clearTimeout(timer);
        caller?.removeEventListener("abort", onCallerAbort);
      }

      if (res.status >= 300 && res.status < 400) {
        throw new FlxblResponseError(site, "answered a redirect; not followed, so the API key goes nowhere else", {
          status: res.status,
        });
      }
      if (res.ok) {
        if (res.status === 204 || text.trim() === "") return undefined as R;
        try {
          return JSON.parse(text) as R;
        } catch (err) {
          throw new FlxblResponseError(site, "answered with a body that is not JSON", {
            status: res.status,
            cause: err,
          });
        }
      }

      const error = errorFor(site, res, text, this.#now());
      if (error instanceof FlxblAuthError && this.#keys.refresh && !refreshed) {
        // The key may have been rotated since it was cached: re-read the secret once.
        refreshed = true;
        const fresh = await this.#keys.refresh(key);
        if (fresh !== key) {
          freshKey = fresh;
          this.#options.logger?.warn("FLXBL refused the cached API key; retrying with the refreshed secret", {
            ...site,
          });
          attempt--;
          continue;
        }
      }
      // 429 means not applied, so even a create may be sent again; a 5xx create may have been.
      const retryable = error instanceof FlxblRateLimitError || (error instanceof FlxblServerError && spec.idempotent);
      if (!retryable || attempt === attempts) throw error;
      lastError = error;
      await this.#backoff(site, attempt, base, cap, retryHint(error), cutoff, caller, error);
    }
    throw lastError ?? new FlxblResponseError(site, "was not attempted");
  }

  async #backoff(
    site: CallSite,
    attempt: number,
    base: number,
    cap: number,
    floor: number | undefined,
    cutoff: number,
    caller: AbortSignal | undefined,
    cause: FlxblError,
  ): Promise<void> {
    const jitter = Math.floor(this.#random() * Math.min(cap, base * 2 ** (attempt - 1)));
    const wait = Math.max(floor ?? 0, jitter);
    if (this.#now() + wait >= cutoff) {
      throw new FlxblTimeoutError(site, `gave up: the next retry (in ${wait} ms) would pass the deadline`, {
        cause,
        retryAfterMs: floor ?? wait,
      });
    }
    this.#options.logger?.debug("retrying FLXBL call", { ...site, attempt, waitMs: wait, status: cause.status });
    try {
      await sleep(wait, undefined, { signal: caller });
    } catch (err) {
      throw new FlxblTimeoutError(site, "was aborted by the caller", { cause: err });
    }
  }
}

function retryHint(err: FlxblError | undefined): number | undefined {
  if (err instanceof FlxblRateLimitError || err instanceof FlxblServerError || err instanceof FlxblTimeoutError)
    return err.retryAfterMs;
  return undefined;
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/**
 * One entity's Dynamic API: CRUD, queries, async iteration over all matches, relationships.
 *
 * @example
 * ```ts
 * const orders = flxbl.entity<Order>("Order");
 * const created = await orders.create({ number: "A-1", status: "pending", total: 1999, currency: "eur" });
 * await orders.update(created.id, { status: "paid" });
 * for await (const o of orders.queryAll({ where: { status: "pending" }, orderBy: "createdAt" })) console.log(o.id);
 * ```
 */
export class EntityClient<T extends object> {
  readonly #client: FlxblClient;
  readonly #name: string;
  readonly #path: string;

  constructor(client: FlxblClient, name: string) {
    this.#client = client;
    this.#name = name;
    this.#path = `/dynamic/${enc(name)}`;
  }

  #need(op: ScopeNeed["op"]): ScopeNeed {
    return { kind: "entity", name: this.#name, op };
  }

  /** `GET /dynamic/{Entity}`: one page, in either list shape FLXBL may answer with. */
  async list(page: PageOptions<T> = {}, options: CallOptions = {}): Promise<ListPage<T>> {
    const body = await this.#client.request<unknown>({
      method: "GET",
      path: this.#path,
      query: { limit: page.limit, offset: page.offset, orderBy: page.orderBy, orderDirection: page.orderDirection },
      need: this.#need("read"),
      idempotent: true,
      signal: options.signal,
      onUnknownOutcome: options.onUnknownOutcome,
    });
    if (Array.isArray(body)) return { data: body as FlxblRecord<T>[], total: undefined };
    if (isRecord(body) && Array.isArray(body.data)) {
      const pagination = isRecord(body.pagination) ? body.pagination : {};
      const total = typeof pagination.total === "number" ? pagination.total : undefined;
      return { data: body.data as FlxblRecord<T>[], total };
    }
    throw new FlxblResponseError({ method: "GET", path: this.#path }, "answered a list with an unknown shape");
  }

  /** `GET /dynamic/{Entity}/:id`. Throws {@link FlxblNotFoundError} when it does not exist. */
  get(id: string, options: CallOptions = {}): Promise<FlxblRecord<T>> {
    return this.#client.request({
      method: "GET",
      path: `${this.#path}/${enc(id)}`,
      need: this.#need("read"),
      idempotent: true,
      signal: options.signal,
      onUnknownOutcome: options.onUnknownOutcome,
    });
  }

  /** Like {@link get}, but `undefined` instead of a not-found error. */
  async find(id: string, options: CallOptions = {}): Promise<FlxblRecord<T> | undefined> {
    try {
      return await this.get(id, options);
    } catch (err) {
      if (err instanceof FlxblNotFoundError) return undefined;
      throw err;
    }
  }

  /** `POST /dynamic/{Entity}`. Retried only when FLXBL surely did not apply it (429, refused connection). */
  create(data: T, options: CallOptions = {}): Promise<FlxblRecord<T>> {
    return this.#client.request({
      method: "POST",
      path: this.#path,
      body: data,
      need: this.#need("create"),
      idempotent: false,
      signal: options.signal,
      onUnknownOutcome: options.onUnknownOutcome,
    });
  }

  /** `PUT /dynamic/{Entity}/:id`: full replacement; fields not sent are cleared. */
  replace(id: string, data: T, options: CallOptions = {}): Promise<FlxblRecord<T>> {
    return this.#client.request({
      method: "PUT",
      path: `${this.#path}/${enc(id)}`,
      body: data,
      need: this.#need("update"),
      idempotent: true,
      signal: options.signal,
      onUnknownOutcome: options.onUnknownOutcome,
    });
  }

  /** `PATCH /dynamic/{Entity}/:id`: sets the given fields (absolute values, so safe to retry). */
  update(id: string, patch: Partial<T>, options: CallOptions = {}): Promise<FlxblRecord<T>> {
    return this.#client.request({
      method: "PATCH",
      path: `${this.#path}/${enc(id)}`,
      body: patch,
      need: this.#need("update"),
      idempotent: true,
      signal: options.signal,
      onUnknownOutcome: options.onUnknownOutcome,
    });
  }

  /** `DELETE /dynamic/{Entity}/:id`. */
  async delete(id: string, options: CallOptions = {}): Promise<void> {
    await this.#client.request({
      method: "DELETE",
      path: `${this.#path}/${enc(id)}`,
      need: this.#need("delete"),
      idempotent: true,
      signal: options.signal,
      onUnknownOutcome: options.onUnknownOutcome,
    });
  }

  /** `POST /dynamic/{Entity}/query`: the matching records of one page. */
  async query(query: QueryOptions<T> = {}, options: CallOptions = {}): Promise<FlxblRecord<T>[]> {
    const body = await this.#query(query, false, options);
    if (Array.isArray(body)) return body as FlxblRecord<T>[];
    if (isRecord(body) && Array.isArray(body.data)) return body.data as FlxblRecord<T>[];
    throw new FlxblResponseError(
      { method: "POST", path: `${this.#path}/query` },
      "answered a query with an unknown shape",
    );
  }

  /** A query with `includeCount`: one page and the number of all matches. */
  async queryWithCount(
    query: QueryOptions<T> = {},
    options: CallOptions = {},
  ): Promise<{ data: FlxblRecord<T>[]; totalCount: number }> {
    const body = await this.#query(query, true, options);
    if (isRecord(body) && Array.isArray(body.data) && typeof body.totalCount === "number")
      return { data: body.data as FlxblRecord<T>[], totalCount: body.totalCount };
    throw new FlxblResponseError(
      { method: "POST", path: `${this.#path}/query` },
      "answered includeCount without a count",
    );
  }

  #query(query: QueryOptions<T>, includeCount: boolean, options: CallOptions): Promise<unknown> {
    return this.#client.request<unknown>({
      method: "POST",
      path: `${this.#path}/query`,
      body: includeCount ? { ...query, includeCount: true } : query,
      need: this.#need("read"),
      idempotent: true,
      signal: options.signal,
      onUnknownOutcome: options.onUnknownOutcome,
    });
  }

  /**
   * Every record matching `query`, fetched page by page (`pageSize`, default 100) with offset
   * paging. Give an `orderBy` on a field your own writes do not change: offset paging over a set
   * that your loop shrinks skips records (the job runner pages by key instead).
   */
  async *queryAll(
    query: Omit<QueryOptions<T>, "limit" | "offset"> & { pageSize?: number } = {},
    options: CallOptions = {},
  ): AsyncGenerator<FlxblRecord<T>, void, undefined> {
    const { pageSize = 100, ...rest } = query;
    // FLXBL's largest page is undocumented: a page shorter than asked may be its cap, not the end.
    // So the page size is learnt from the longest page seen, and only a page shorter than that
    // (or an empty one) ends the walk.
    let longest = 0;
    for (let offset = 0; ; ) {
      const page = await this.query({ ...rest, limit: pageSize, offset }, options);
      yield* page;
      longest = Math.max(longest, page.length);
      if (page.length === 0 || page.length < longest) return;
      offset += page.length;
    }
  }

  /**
   * The edges of one relationship type from this entity's records.
   *
   * @example
   * ```ts
   * await flxbl.entity<Order>("Order").relationship<Product, { quantity: number }>("CONTAINS")
   *   .link(orderId, productId, { quantity: 2 });
   * ```
   */
  relationship<Target extends object, Props extends object = Record<string, unknown>>(
    type: string,
  ): RelationshipClient<Target, Props> {
    return new RelationshipClient<Target, Props>(this.#client, this.#path, type);
  }
}

/**
 * One relationship type's edges, seen from the source entity. Made by {@link EntityClient.relationship}.
 *
 * @example
 * ```ts
 * const contains = flxbl.entity<Order>("Order").relationship<Product, { quantity: number }>("CONTAINS");
 * await contains.link(orderId, productId, { quantity: 2 });
 * const { edges } = await contains.list(orderId);
 * for (const edge of edges) console.log(edge.target.sku, edge.properties.quantity);
 * ```
 */
export class RelationshipClient<Target extends object, Props extends object> {
  readonly #client: FlxblClient;
  readonly #entityPath: string;
  readonly #type: string;

  constructor(client: FlxblClient, entityPath: string, type: string) {
    this.#client = client;
    this.#entityPath = entityPath;
    this.#type = type;
  }

  #path(id: string, targetId?: string): string {
    const base = `${this.#entityPath}/${enc(id)}/relationships/${enc(this.#type)}`;
    return targetId === undefined ? base : `${base}/${enc(targetId)}`;
  }

  #need(op: ScopeNeed["op"]): ScopeNeed {
    return { kind: "relationship", name: this.#type, op };
  }

  /** Creates the edge `id -> targetId` with optional properties. Not retried when its outcome is unknown. */
  async link(id: string, targetId: string, properties?: Props, options: CallOptions = {}): Promise<void> {
    await this.#client.request({
      method: "POST",
      path: this.#path(id),
      body: properties === undefined ? { targetId } : { targetId, properties },
      need: this.#need("create"),
      idempotent: false,
      signal: options.signal,
      onUnknownOutcome: options.onUnknownOutcome,
    });
  }

  /** Lists edges (`out` by default), normalising either edge-list shape FLXBL may answer with. */
  async list(
    id: string,
    page: { direction?: "out" | "in" | "both"; limit?: number; offset?: number } = {},
    options: CallOptions = {},
  ): Promise<{ edges: Edge<Target, Props>[]; total: number | undefined }> {
    const path = this.#path(id);
    const body = await this.#client.request<unknown>({
      method: "GET",
      path,
      query: { direction: page.direction ?? "out", limit: page.limit, offset: page.offset },
      need: this.#need("read"),
      idempotent: true,
      signal: options.signal,
      onUnknownOutcome: options.onUnknownOutcome,
    });
    if (Array.isArray(body)) {
      return {
        edges: body.map((item) => {
          const rel = isRecord(item) && isRecord(item.relationship) ? item.relationship : {};
          return edgeOf(this.#type, rel, (item as { target: unknown }).target);
        }),
        total: undefined,
      };
    }
    if (isRecord(body) && Array.isArray(body.items)) {
      return {
        edges: body.items.map((item) => {
          const { _relationship, ...target } = item as Record<string, unknown>;
          return edgeOf(this.#type, isRecord(_relationship) ? _relationship : {}, target);
        }),
        total: typeof body.count === "number" ? body.count : undefined,
      };
    }
    throw new FlxblResponseError({ method: "GET", path }, "answered an edge list with an unknown shape");
  }

  /** Sets properties on the edge `id -> targetId`. */
  async update(id: string, targetId: string, properties: Partial<Props>, options: CallOptions = {}): Promise<void> {
    await this.#client.request({
      method: "PATCH",
      path: this.#path(id, targetId),
      body: { properties },
      need: this.#need("update"),
      idempotent: true,
      signal: options.signal,
      onUnknownOutcome: options.onUnknownOutcome,
    });
  }

  /** Deletes the edge `id -> targetId`. */
  async unlink(id: string, targetId: string, options: CallOptions = {}): Promise<void> {
    await this.#client.request({
      method: "DELETE",
      path: this.#path(id, targetId),
      need: this.#need("delete"),
      idempotent: true,
      signal: options.signal,
      onUnknownOutcome: options.onUnknownOutcome,
    });
  }
}

function edgeOf<Target, Props>(type: string, rel: Record<string, unknown>, target: unknown): Edge<Target, Props> {
  const direction = rel.direction === "out" || rel.direction === "in" ? rel.direction : undefined;
  return {
    type: typeof rel.type === "string" ? rel.type : type,
    direction,
    properties: (isRecord(rel.properties) ? rel.properties : {}) as Props,
    target: target as FlxblRecord<Target>,
  };
}
