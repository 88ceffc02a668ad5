import type { FlxblClient } from "./client.js";
import { FlxblResponseError } from "./errors.js";
import type { Operation } from "./scopes.js";
import { type CallSpec, enc, isRecord, send } from "./send.js";
import type { CallOptions, Edge, FlxblRecord } from "./types.js";

/**
 * One relationship type's edges, seen from the source entity. Made by {@link EntityClient.relationship}.
 *
 * @example
 * ```ts
 * const contains = context.flxbl.entity<Order>("Order").relationship<Product, { quantity: number }>("CONTAINS");
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

  /** Sends one call of this relationship's API, the scope it needs named by `op`, with the caller's options. */
  #send<R>(op: Operation, call: Omit<CallSpec, "need">, options: CallOptions): Promise<R> {
    return send<R>(this.#client, { ...call, need: { kind: "relationship", name: this.#type, op } }, options);
  }

  /** Creates the edge `id -> targetId` with optional properties. Not retried when its outcome is unknown. */
  async link(id: string, targetId: string, properties?: Props, options: CallOptions = {}): Promise<void> {
    await this.#send(
      "create",
      {
        method: "POST",
        path: this.#path(id),
        body: properties === undefined ? { targetId } : { targetId, properties },
        idempotent: false,
      },
      options,
    );
  }

  /** Lists edges (`out` by default), normalising either edge-list shape FLXBL may answer with. */
  async list(
    id: string,
    page: { direction?: "out" | "in" | "both"; limit?: number; offset?: number } = {},
    options: CallOptions = {},
  ): Promise<{ edges: Edge<Target, Props>[]; total: number | undefined }> {
    const path = this.#path(id);
    const body = await this.#send<unknown>(
      "read",
      {
        method: "GET",
        path,
        query: { direction: page.direction ?? "out", limit: page.limit, offset: page.offset },
        idempotent: true,
      },
      options,
    );
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
    await this.#send(
      "update",
      { method: "PATCH", path: this.#path(id, targetId), body: { properties }, idempotent: true },
      options,
    );
  }

  /** Deletes the edge `id -> targetId`. */
  async unlink(id: string, targetId: string, options: CallOptions = {}): Promise<void> {
    await this.#send("delete", { method: "DELETE", path: this.#path(id, targetId), idempotent: true }, options);
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
