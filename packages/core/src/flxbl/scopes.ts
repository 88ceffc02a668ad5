/**
 * An operation on the Dynamic API, as scopes name it. Reading includes querying.
 *
 * @example
 * ```ts
 * const op: Operation = "update";
 * const scope: Scope = `entity:Order:${op}`;
 * ```
 */
export type Operation = "create" | "read" | "update" | "delete";

/**
 * A FLXBL API key scope: `entity:{Name|*}:{op|*}` or `relationship:{TYPE|*}:{op|*}`.
 *
 * @example
 * ```ts
 * const scopes: Scope[] = ["entity:Order:read", "entity:Order:update"];
 * ```
 */
export type Scope = `entity:${string}:${Operation | "*"}` | `relationship:${string}:${Operation | "*"}`;

const scopePattern = /^(entity|relationship):([A-Za-z][A-Za-z0-9_]*|\*):(create|read|update|delete|\*)$/;

/**
 * Whether a string follows FLXBL's scope grammar.
 *
 * @example
 * ```ts
 * isScope("entity:Order:read"); // true
 * isScope("entity:Order:write"); // false
 * ```
 */
export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && scopePattern.test(value);
}

/**
 * What one request needs: `{ kind: "entity", name: "Order", op: "update" }`.
 *
 * @example
 * ```ts
 * const need: ScopeNeed = { kind: "relationship", name: "CONTAINS", op: "create" };
 * grants(["relationship:*:create"], need); // true
 * ```
 */
export interface ScopeNeed {
  kind: "entity" | "relationship";
  name: string;
  op: Operation;
}

/**
 * Whether any of `scopes` grants `need`, with `*` matching any name or operation.
 *
 * @example
 * ```ts
 * grants(["entity:*:read"], { kind: "entity", name: "Order", op: "read" }); // true
 * grants(["entity:Order:*"], { kind: "entity", name: "Product", op: "read" }); // false
 * ```
 */
export function grants(scopes: readonly string[], need: ScopeNeed): boolean {
  return scopes.some((scope) => {
    const m = scopePattern.exec(scope);
    return (
      m !== null && m[1] === need.kind && (m[2] === "*" || m[2] === need.name) && (m[3] === "*" || m[3] === need.op)
    );
  });
}

/**
 * Renders a need as the scope that would grant it exactly: `entity:Order:update`.
 *
 * @example
 * ```ts
 * scopeFor({ kind: "entity", name: "Order", op: "update" }); // "entity:Order:update"
 * ```
 */
export function scopeFor(need: ScopeNeed): Scope {
  return `${need.kind}:${need.name}:${need.op}` as Scope;
}
