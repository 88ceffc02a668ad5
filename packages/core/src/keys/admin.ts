import { activeTelemetry, type FlxblCallFacts } from "../observe/telemetry.js";

/** The scope operation each admin method is, for metrics and traces. */
const adminOps: Record<string, string> = { POST: "create", GET: "read", DELETE: "delete" };

/**
 * A FLXBL API key as the key API lists it (the key itself is shown once, at creation).
 *
 * @example
 * ```ts
 * const keys: ApiKeyInfo[] = await admin.listKeys();
 * const ours = keys.filter((k) => k.name.startsWith("flxbl-lambda/prod/"));
 * ```
 */
export interface ApiKeyInfo {
  id: string;
  name: string;
  scopes: string[];
  createdAt?: string;
  /** The key's first characters (`flxbl_<8>`), when FLXBL lists them: ties a stored key to its id. */
  keyPrefix?: string;
}

/**
 * Whether `apiKey` can be the key FLXBL lists as `listed`: true unless the listing shows a
 * prefix the key does not start with (a secret pairing one key's id with another key).
 *
 * @example
 * ```ts
 * const listed = (await admin.listKeys()).find((k) => k.name === "flxbl-lambda/prod/payments-webhook");
 * const trusted = listed !== undefined && keyMatches(listed, (await loader.get()).apiKey);
 * ```
 */
export function keyMatches(listed: ApiKeyInfo, apiKey: string): boolean {
  return !listed.keyPrefix || apiKey.startsWith(listed.keyPrefix);
}

/**
 * A key just created: the only moment FLXBL shows `key`.
 *
 * @example
 * ```ts
 * const created: CreatedApiKey = await admin.createKey("flxbl-lambda/prod/payments-webhook", ["entity:Order:read"]);
 * // Store created.key in the function's secret now: FLXBL never shows it again.
 * ```
 */
export interface CreatedApiKey extends ApiKeyInfo {
  key: string;
}

/**
 * A key API call FLXBL refused; names the call and FLXBL's status, never a key.
 *
 * @example
 * ```ts
 * await admin.createKey("flxbl-lambda/prod/payments-webhook", ["entity:Order:read"]).catch((err) => {
 *   if (err instanceof FlxblAdminError && err.status === 401) throw new Error("FLXBL refused the admin key", { cause: err });
 *   throw err;
 * });
 * ```
 */
export class FlxblAdminError extends Error {
  override name = "FlxblAdminError";
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    detail: string,
  ) {
    super(`FLXBL ${method} ${path} answered ${status}${detail ? `: ${detail}` : ""}`);
  }
}

/** Keys asked for per `GET /api-keys` page. */
const keyPageSize = 100;

/**
 * FLXBL's key API with an admin key: create (`POST /api-keys`, documented), list and revoke
 * (`GET /api-keys`, `DELETE /api-keys/:id`: not documented by FLXBL; the emulator's assumption),
 * and a cheap check that a key is accepted. Used by provisioning and rotation, never by a
 * request-serving function.
 *
 * @example
 * ```ts
 * const adminSecret = secretLoader({ secretId: adminSecretName({ app: appName, stage: "prod" }) });
 * const admin = new FlxblAdmin({ baseUrl: env.FLXBL_URL, adminKey: (await adminSecret.get()).apiKey });
 * const created = await admin.createKey("flxbl-lambda/prod/payments-webhook", ["entity:Order:read"]);
 * ```
 */
export class FlxblAdmin {
  readonly #base: string;
  readonly #adminKey: string;
  readonly #fetch: typeof fetch;

  /** `fetch` defaults to `globalThis.fetch`. */
  constructor(options: { baseUrl: string; adminKey: string; fetch?: typeof fetch }) {
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#adminKey = options.adminKey;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /**
   * One admin call; in an invocation (the rotation function's), counted and traced as a FLXBL call
   * of operation `ApiKey:<create|read|delete>`.
   */
  #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const metrics = activeTelemetry();
    if (!metrics) return this.#send<T>(method, path, body, undefined);
    const need = { name: "ApiKey", op: adminOps[method] ?? method.toLowerCase() };
    return metrics.flxblCall(need, method, (facts) => this.#send<T>(method, path, body, facts));
  }

  async #send<T>(method: string, path: string, body: unknown, facts: FlxblCallFacts | undefined): Promise<T> {
    if (facts) facts.attempts = 1;
    const res = await this.#fetch(`${this.#base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.#adminKey}`,
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      // A redirect would carry the admin key to wherever it points: refused, never followed.
      redirect: "manual",
    });
    const text = await res.text();
    if (facts) {
      facts.status = res.status;
      if (res.status === 429) facts.throttled = 1;
    }
    if (res.status >= 300 && res.status < 400)
      throw new FlxblAdminError(
        method,
        path,
        res.status,
        "FLXBL answered a redirect; not followed, so the key goes nowhere else",
      );
    if (!res.ok) {
      let detail = text.slice(0, 200);
      try {
        const parsed = JSON.parse(text) as { message?: unknown };
        if (parsed.message !== undefined) detail = String(parsed.message);
      } catch {
        // not JSON: keep the text
      }
      throw new FlxblAdminError(method, path, res.status, detail);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Creates a key with exactly `scopes`. */
  createKey(name: string, scopes: readonly string[]): Promise<CreatedApiKey> {
    return this.#call("POST", "/api-keys", { name, scopes });
  }

  /**
   * Every active key, page by page (`?limit=&offset=`) until a short or empty page, in whichever
   * shape FLXBL answers (a bare array, `{data, pagination}` or `{items}`): rotation decides what
   * it may revoke from this list, so it must not stop at the first page.
   */
  async listKeys(): Promise<ApiKeyInfo[]> {
    const keys: ApiKeyInfo[] = [];
    const seen = new Set<string>();
    let longest = 0;
    for (let offset = 0, pages = 0; pages < 1_000; pages++) {
      const body = await this.#call<unknown>("GET", `/api-keys?limit=${keyPageSize}&offset=${offset}`);
      const wrapped = (typeof body === "object" && body !== null ? body : {}) as {
        data?: unknown;
        items?: unknown;
        pagination?: { total?: unknown };
      };
      const page = (
        Array.isArray(body)
          ? body
          : Array.isArray(wrapped.data)
            ? wrapped.data
            : Array.isArray(wrapped.items)
              ? wrapped.items
              : []
      ) as ApiKeyInfo[];
      const fresh = page.filter((k) => !seen.has(k.id));
      for (const key of fresh) {
        seen.add(key.id);
        keys.push(key);
      }
      offset += page.length;
      longest = Math.max(longest, page.length);
      const total = typeof wrapped.pagination?.total === "number" ? wrapped.pagination.total : undefined;
      // Done when the total is reached; without one, at an empty page or one shorter than the
      // longest (the server may cap pages below what was asked). A server that ignores paging
      // answers the whole list every time: no new ids means done too.
      const done =
        page.length === 0 || fresh.length === 0 || (total !== undefined ? offset >= total : page.length < longest);
      if (done) return keys;
    }
    throw new FlxblAdminError("GET", "/api-keys", 200, "more than 1000 pages of keys; refusing to go on");
  }

  /** Revokes a key; `false` when it was not found (already revoked). */
  async revokeKey(id: string): Promise<boolean> {
    try {
      await this.#call("DELETE", `/api-keys/${encodeURIComponent(id)}`);
      return true;
    } catch (err) {
      if (err instanceof FlxblAdminError && err.status === 404) return false;
      throw err;
    }
  }

  /**
   * Whether FLXBL accepts `apiKey`: any answer but 401 to a one-record query on an entity its
   * scopes name (a 403 still proves the key is valid). See {@link probeKey} for a stricter check.
   */
  async keyWorks(apiKey: string, scopes: readonly string[]): Promise<boolean> {
    return (await this.probeKey(apiKey, scopes)).status !== 401;
  }

  /**
   * Makes a call `apiKey`'s scopes allow and that changes nothing: a one-record query on the first
   * entity it may read (`entity:<Name>:read` or `:*`), and answers FLXBL's status. A key with no
   * read scope on a named entity is probed with a query on one it names (a 403 then shows the key
   * is valid but proves no scope); `readable` says which case it was.
   */
  async probeKey(
    apiKey: string,
    scopes: readonly string[],
  ): Promise<{ status: number; readable: boolean; path: string }> {
    const named = scopes.map((s) => s.split(":")).filter(([kind, name]) => kind === "entity" && name && name !== "*");
    const reader = named.find(([, , op]) => op === "read" || op === "*");
    const entity = (reader ?? named[0])?.[1] ?? "_";
    const path = `/dynamic/${encodeURIComponent(entity)}/query`;
    const send = async (facts?: FlxblCallFacts) => {
      const answer = await this.#fetch(`${this.#base}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ limit: 1 }),
        redirect: "manual",
      });
      await answer.arrayBuffer();
      if (facts) Object.assign(facts, { attempts: 1, status: answer.status, throttled: answer.status === 429 ? 1 : 0 });
      return answer;
    };
    const metrics = activeTelemetry();
    const res = metrics ? await metrics.flxblCall({ name: entity, op: "read" }, "POST", send) : await send();
    if (res.status >= 500 || res.status === 429)
      throw new FlxblAdminError("POST", path, res.status, "could not check the key now");
    return { status: res.status, readable: reader !== undefined, path };
  }
}
