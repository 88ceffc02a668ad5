/** Fields FLXBL sets on every record. */
export interface SystemFields {
  id: string;
  createdAt: string;
  updatedAt: string;
}

/** A record as FLXBL returns it: the entity's fields plus `id`, `createdAt`, `updatedAt`. */
export type FlxblRecord<T> = T & SystemFields;

type ElementOf<V> = V extends readonly (infer E)[] ? E : never;

/** Operators on one field, typed by the field's value type. */
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

/** One field's condition: a bare value means equality. */
export type FieldCondition<V> = V | null | FieldOperators<V>;

/**
 * A `where` object of FLXBL's query DSL, typed by the entity.
 *
 * @example
 * ```ts
 * const stale: Where<Order> = { status: "pending", createdAt: { $lt: cutoff } };
 * const either: Where<Order> = { $or: [{ status: "paid" }, { total: { $gte: 1000 } }] };
 * ```
 */
export type Where<T> = {
  [K in keyof (T & SystemFields)]?: FieldCondition<NonNullable<(T & SystemFields)[K]>>;
} & {
  $and?: Where<T>[];
  $or?: Where<T>[];
};

/** Sorting and paging of a list or query. One `orderBy` field, as FLXBL allows. */
export interface PageOptions<T> {
  orderBy?: Extract<keyof (T & SystemFields), string>;
  orderDirection?: "ASC" | "DESC";
  limit?: number;
  offset?: number;
}

/** A query: `where` plus sorting and paging. */
export interface QueryOptions<T> extends PageOptions<T> {
  where?: Where<T>;
}

/** One page of `list`: `total` when FLXBL's list envelope reported it. */
export interface ListPage<T> {
  data: FlxblRecord<T>[];
  total: number | undefined;
}

/** A relationship edge seen from one record: the record at the other end and the edge's properties. */
export interface Edge<Target, Props = Record<string, unknown>> {
  type: string;
  /** `out` when the record is the edge's source, `in` when it is the target. */
  direction: "out" | "in" | undefined;
  properties: Props;
  target: FlxblRecord<Target>;
}

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the call (and its retries), e.g. middy's early-timeout signal. */
  signal?: AbortSignal;
}
