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
 * await admin.createKey(name, scopes).catch((err) => {
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

/**
 * FLXBL's key API with an admin key: create (`POST /api-keys`, documented), list and revoke
 * (`GET /api-keys`, `DELETE /api-keys/:id`: not documented by FLXBL; the emulator's assumption),
 * and a cheap check that a key is accepted. Used by provisioning and rotation, never by a
 * request-serving function.
 *
 * @example
 * ```ts
 * const admin = new FlxblAdmin({ baseUrl: env.FLXBL_URL, adminKey });
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

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.#fetch(`${this.#base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.#adminKey}`,
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
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

  /** The active keys. */
  async listKeys(): Promise<ApiKeyInfo[]> {
    const body = await this.#call<unknown>("GET", "/api-keys");
    if (Array.isArray(body)) return body as ApiKeyInfo[];
    const wrapped = body as { data?: unknown; items?: unknown };
    return (
      Array.isArray(wrapped.data) ? wrapped.data : Array.isArray(wrapped.items) ? wrapped.items : []
    ) as ApiKeyInfo[];
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
   * scopes name (a 403 still proves the key is valid).
   */
  async keyWorks(apiKey: string, scopes: readonly string[]): Promise<boolean> {
    const entity =
      scopes.map((s) => s.split(":")).find(([kind, name]) => kind === "entity" && name !== "*")?.[1] ?? "_";
    const res = await this.#fetch(`${this.#base}/dynamic/${encodeURIComponent(entity)}/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ limit: 1 }),
    });
    await res.arrayBuffer();
    if (res.status >= 500 || res.status === 429)
      throw new FlxblAdminError("POST", `/dynamic/${entity}/query`, res.status, "could not check the key now");
    return res.status !== 401;
  }
}
