/**
 * Fields FLXBL sets on every record.
 *
 * @example
 * ```ts
 * const { id, createdAt, updatedAt }: SystemFields = await orders.get(orderId);
 * ```
 */
export interface SystemFields {
  id: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * A record as FLXBL returns it: the entity's fields plus `id`, `createdAt`, `updatedAt`.
 *
 * @example
 * ```ts
 * const order: FlxblRecord<Order> = await orders.get(orderId);
 * if (order.status === "pending") console.log(order.id, order.createdAt);
 * ```
 */
export type FlxblRecord<T> = T & SystemFields;

type ElementOf<V> = V extends readonly (infer E)[] ? E : never;

/**
 * Operators on one field, typed by the field's value type.
 *
 * @example
 * ```ts
 * const january: FieldOperators<string> = { $gte: "2025-01-01T00:00:00Z", $lt: "2025-02-01T00:00:00Z" };
 * const onSale: FieldOperators<string[]> = { $contains: "sale" };
 * ```
 */
export interface FieldOperators<V> {
  $eq?: V | null;
  $neq?: V | null;
  $gt?: V;
  $gte?: V;
  $lt?: V;
  $lte?: V;
  $in?: V[];
  $notIn?: V[];
  /** On an array field, membership; on a string field, case-insensitive substring. */
  $contains?: V extends readonly unknown[] ? ElementOf<V> : V extends string ? string : never;
}

/**
 * One field's condition: a bare value means equality.
 *
 * @example
 * ```ts
 * const paid: FieldCondition<OrderStatus> = "paid";
 * const open: FieldCondition<OrderStatus> = { $in: ["pending", "paid"] };
 * ```
 */
export type FieldCondition<V> = V | null | FieldOperators<V>;

/**
 * A `where` object of FLXBL's query DSL, typed by the entity.
 *
 * @example
 * ```ts
 * const stale: Where<Order> = { status: "pending", createdAt: { $lt: "2026-01-01T00:00:00Z" } };
 * const either: Where<Order> = { $or: [{ status: "paid" }, { total: { $gte: 1000 } }] };
 * ```
 */
export type Where<T> = {
  [K in keyof (T & SystemFields)]?: FieldCondition<NonNullable<(T & SystemFields)[K]>>;
} & {
  $and?: Where<T>[];
  $or?: Where<T>[];
};

/**
 * Sorting and paging of a list or query. One `orderBy` field, as FLXBL allows.
 *
 * @example
 * ```ts
 * const newestFirst: PageOptions<Order> = { orderBy: "createdAt", orderDirection: "DESC", limit: 20 };
 * const { data } = await orders.list(newestFirst);
 * ```
 */
export interface PageOptions<T> {
  orderBy?: Extract<keyof (T & SystemFields), string>;
  orderDirection?: "ASC" | "DESC";
  limit?: number;
  offset?: number;
}

/**
 * A query: `where` plus sorting and paging.
 *
 * @example
 * ```ts
 * const query: QueryOptions<Order> = { where: { status: "pending" }, orderBy: "createdAt", limit: 50 };
 * const pending = await orders.query(query);
 * ```
 */
export interface QueryOptions<T> extends PageOptions<T> {
  where?: Where<T>;
}

/**
 * One page of `list`: `total` when FLXBL's list envelope reported it.
 *
 * @example
 * ```ts
 * const page: ListPage<Order> = await orders.list({ limit: 20 });
 * console.log(`${page.data.length} of ${page.total ?? "unknown"}`);
 * ```
 */
export interface ListPage<T> {
  data: FlxblRecord<T>[];
  total: number | undefined;
}

/**
 * A relationship edge seen from one record: the record at the other end and the edge's properties.
 *
 * @example
 * ```ts
 * const { edges } = await orders.relationship<Product, { quantity: number }>("CONTAINS").list(orderId);
 * const lines = edges.map((edge: Edge<Product, { quantity: number }>) => `${edge.target.sku} x${edge.properties.quantity}`);
 * ```
 */
export interface Edge<Target, Props = Record<string, unknown>> {
  type: string;
  /** `out` when the record is the edge's source, `in` when it is the target. */
  direction: "out" | "in" | undefined;
  properties: Props;
  target: FlxblRecord<Target>;
}

/**
 * Options every call takes.
 *
 * @example
 * ```ts
 * const order = await orders.get(orderId, { signal: AbortSignal.timeout(2000) });
 * ```
 */
export interface CallOptions {
  /** Aborts the call (and its retries), e.g. middy's early-timeout signal. */
  signal?: AbortSignal;
  /**
   * Told when an attempt of this call was sent and then given up on without an answer (a
   * timeout, an abort, a dropped connection): FLXBL may still apply it later, even if a retry
   * succeeded. A lock holder (`LockHold.callOptions`) keeps its lock until the lease lapses then.
   */
  onUnknownOutcome?: () => void;
}
