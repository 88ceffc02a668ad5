import type { FlxblClient } from "./client.js";
import { FlxblNotFoundError, FlxblResponseError } from "./errors.js";
import { RelationshipClient } from "./relationship.js";
import type { Operation } from "./scopes.js";
import { type CallSpec, enc, isRecord, send } from "./send.js";
import type { CallOptions, FlxblRecord, ListPage, PageOptions, QueryOptions } from "./types.js";

/**
 * One entity's Dynamic API: CRUD, queries, async iteration over all matches, relationships.
 *
 * @example
 * ```ts
 * const orders = context.flxbl.entity<Order>("Order");
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

  /** Sends one call of this entity's API, the scope it needs named by `op`, with the caller's options. */
  #send<R>(op: Operation, call: Omit<CallSpec, "need">, options: CallOptions): Promise<R> {
    return send<R>(this.#client, { ...call, need: { kind: "entity", name: this.#name, op } }, options);
  }

  /** `GET /dynamic/{Entity}`: one page, in either list shape FLXBL may answer with. */
  async list(page: PageOptions<T> = {}, options: CallOptions = {}): Promise<ListPage<T>> {
    const body = await this.#send<unknown>(
      "read",
      {
        method: "GET",
        path: this.#path,
        query: { limit: page.limit, offset: page.offset, orderBy: page.orderBy, orderDirection: page.orderDirection },
        idempotent: true,
      },
      options,
    );
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
    return this.#send("read", { method: "GET", path: `${this.#path}/${enc(id)}`, idempotent: true }, options);
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
    return this.#send("create", { method: "POST", path: this.#path, body: data, idempotent: false }, options);
  }

  /** `PUT /dynamic/{Entity}/:id`: full replacement; fields not sent are cleared. */
  replace(id: string, data: T, options: CallOptions = {}): Promise<FlxblRecord<T>> {
    return this.#send(
      "update",
      { method: "PUT", path: `${this.#path}/${enc(id)}`, body: data, idempotent: true },
      options,
    );
  }

  /** `PATCH /dynamic/{Entity}/:id`: sets the given fields (absolute values, so safe to retry). */
  update(id: string, patch: Partial<T>, options: CallOptions = {}): Promise<FlxblRecord<T>> {
    return this.#send(
      "update",
      { method: "PATCH", path: `${this.#path}/${enc(id)}`, body: patch, idempotent: true },
      options,
    );
  }

  /** `DELETE /dynamic/{Entity}/:id`. */
  async delete(id: string, options: CallOptions = {}): Promise<void> {
    await this.#send("delete", { method: "DELETE", path: `${this.#path}/${enc(id)}`, idempotent: true }, options);
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
    return this.#send<unknown>(
      "read",
      {
        method: "POST",
        path: `${this.#path}/query`,
        body: includeCount ? { ...query, includeCount: true } : query,
        idempotent: true,
      },
      options,
    );
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
   * await context.flxbl.entity<Order>("Order").relationship<Product, { quantity: number }>("CONTAINS")
   *   .link(orderId, productId, { quantity: 2 });
   * ```
   */
  relationship<Target extends object, Props extends object = Record<string, unknown>>(
    type: string,
  ): RelationshipClient<Target, Props> {
    return new RelationshipClient<Target, Props>(this.#client, this.#path, type);
  }
}
