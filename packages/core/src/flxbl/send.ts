import type { FlxblClient } from "./client.js";
import type { ScopeNeed } from "./scopes.js";
import type { CallOptions } from "./types.js";

/**
 * The HTTP methods of FLXBL's Dynamic API.
 *
 * @example
 * ```ts
 * const method: Method = "PATCH";
 * ```
 */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * One Dynamic API operation as an endpoint method describes it: what to send and what it needs.
 *
 * @example
 * ```ts
 * const call: CallSpec = {
 *   method: "PATCH", path: "/dynamic/Order/ord_1", body: { status: "paid" },
 *   need: { kind: "entity", name: "Order", op: "update" }, idempotent: true,
 * };
 * ```
 */
export interface CallSpec {
  method: Method;
  /** Path below the base URL, already encoded. */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  need: ScopeNeed;
  /** Whether sending it twice is harmless (reads, queries, PUT, PATCH with absolute values, DELETE). */
  idempotent: boolean;
}

/**
 * What {@link FlxblClient.request} takes: the operation and the caller's {@link CallOptions}.
 *
 * @example
 * ```ts
 * const spec: RequestSpec = {
 *   method: "GET", path: "/dynamic/Order/ord_1", need: { kind: "entity", name: "Order", op: "read" },
 *   idempotent: true, signal: AbortSignal.timeout(2_000),
 * };
 * ```
 */
export interface RequestSpec extends CallSpec {
  signal?: AbortSignal | undefined;
  onUnknownOutcome?: (() => void) | undefined;
}

/**
 * Sends one operation through the client with the caller's options: the one place the entity
 * and relationship clients forward {@link CallOptions}, so a new option reaches every endpoint.
 *
 * @example
 * ```ts
 * const need: ScopeNeed = { kind: "entity", name: "Order", op: "read" };
 * const order = await send<FlxblRecord<Order>>(client, { method: "GET", path: `/dynamic/Order/${enc(orderId)}`, need, idempotent: true }, {});
 * ```
 */
export function send<R>(client: FlxblClient, call: CallSpec, options: CallOptions): Promise<R> {
  return client.request<R>({ ...call, signal: options.signal, onUnknownOutcome: options.onUnknownOutcome });
}

/**
 * A path segment, percent-encoded (ids and names may hold `/`, `?` or `#`).
 *
 * @example
 * ```ts
 * `/dynamic/${enc("Order")}/${enc("a/b")}`; // "/dynamic/Order/a%2Fb"
 * ```
 */
export const enc = encodeURIComponent;

/**
 * Whether an answer's value is a plain object (not null, not an array), to read its shape.
 *
 * @example
 * ```ts
 * const answer: unknown = JSON.parse(body);
 * if (isRecord(answer) && Array.isArray(answer.data)) return answer.data;
 * ```
 */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
