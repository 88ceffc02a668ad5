import type { BehaviourOptions } from "./options.js";
import { type EntityDef, type FieldType, isIsoDateTime } from "./schema.js";

/** A stored record as returned: system fields plus the entity's own fields. */
export type StoredRecord = Record<string, unknown> & { id: string; createdAt: string; updatedAt: string };

/** A query the client got wrong: answered with 400 and this message. */
export class QueryError extends Error {
  override name = "QueryError";
}

type Predicate = (record: StoredRecord) => boolean;

const systemFieldTypes: Record<string, FieldType> = { id: "STRING", createdAt: "DATETIME", updatedAt: "DATETIME" };

const comparisonOperators = new Set(["$eq", "$neq", "$gt", "$gte", "$lt", "$lte", "$in", "$notIn", "$contains"]);
const extendedFieldOperators = new Set(["$startsWith", "$endsWith"]);
const stringTypes = new Set<FieldType>(["STRING", "TEXT", "ENUM", "FILE"]);
const arrayTypes = new Set<FieldType>(["STRING_ARRAY", "NUMBER_ARRAY", "FLOAT_ARRAY", "VECTOR"]);
const orderedTypes = new Set<FieldType>(["STRING", "TEXT", "ENUM", "NUMBER", "FLOAT", "DATETIME", "FILE"]);

function fieldType(entity: EntityDef, name: string): FieldType {
  const system = systemFieldTypes[name];
  if (system) return system;
  const field = entity.fields.find((f) => f.name === name);
  if (!field) throw new QueryError(`Unknown field "${name}" on entity ${entity.name}`);
  if (field.type === "PASSWORD") throw new QueryError(`Field "${name}" is a PASSWORD and cannot be queried`);
  return field.type;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Makes a value comparable for its field type: instants for DATETIME, numbers, strings. */
function comparable(type: FieldType, value: unknown, fold: boolean): unknown {
  if (value === null || value === undefined) return null;
  if (type === "DATETIME" && typeof value === "string") return Date.parse(value);
  if (fold && typeof value === "string") return value.toLowerCase();
  return value;
}

function checkOperand(type: FieldType, field: string, op: string, operand: unknown): void {
  const scalarOk = (v: unknown): boolean => {
    if (v === null) return op === "$eq" || op === "$neq";
    switch (type) {
      case "NUMBER":
      case "FLOAT":
        return typeof v === "number" && Number.isFinite(v);
      case "BOOLEAN":
        return typeof v === "boolean";
      case "DATETIME":
        // ISO 8601, as a DATETIME write needs: Date.parse alone also takes forms like "01/02/2024".
        return isIsoDateTime(v);
      case "JSON":
        return true;
      default:
        return typeof v === "string";
    }
  };
  if (op === "$in" || op === "$notIn") {
    if (!Array.isArray(operand) || !operand.every(scalarOk))
      throw new QueryError(`${op} on "${field}" needs an array of ${type} values`);
    return;
  }
  if (op === "$contains") {
    if (arrayTypes.has(type)) {
      const elementType: FieldType = type === "STRING_ARRAY" ? "STRING" : "FLOAT";
      if (operand === null || (elementType === "STRING" ? typeof operand !== "string" : typeof operand !== "number"))
        throw new QueryError(`$contains on array field "${field}" needs one element value`);
      return;
    }
    if (!stringTypes.has(type) || typeof operand !== "string")
      throw new QueryError(`$contains on "${field}" needs a string field and a string value`);
    return;
  }
  if (op === "$startsWith" || op === "$endsWith") {
    if (!stringTypes.has(type) || typeof operand !== "string")
      throw new QueryError(`${op} on "${field}" needs a string field and a string value`);
    return;
  }
  if (op === "$gt" || op === "$gte" || op === "$lt" || op === "$lte") {
    if (!orderedTypes.has(type)) throw new QueryError(`${op} is not defined for ${type} field "${field}"`);
  }
  if (arrayTypes.has(type) && (op === "$eq" || op === "$neq")) {
    if (operand !== null && !Array.isArray(operand)) throw new QueryError(`${op} on "${field}" needs an array`);
    return;
  }
  if (!scalarOk(operand)) throw new QueryError(`${op} on "${field}" needs a ${type} value`);
}

function compileFieldOperator(
  type: FieldType,
  field: string,
  op: string,
  operand: unknown,
  behaviour: BehaviourOptions,
): Predicate {
  checkOperand(type, field, op, operand);
  const foldEq = behaviour.caseInsensitiveEquality;
  const same = (a: unknown, b: unknown): boolean =>
    arrayTypes.has(type) || type === "JSON" ? JSON.stringify(a) === JSON.stringify(b) : a === b;
  switch (op) {
    case "$eq": {
      const want = comparable(type, operand, foldEq);
      return (r) => same(comparable(type, r[field], foldEq), want);
    }
    case "$neq": {
      const want = comparable(type, operand, foldEq);
      // Like a graph database's `<>`: a missing value is neither equal nor unequal.
      if (want === null) return (r) => r[field] !== null && r[field] !== undefined;
      return (r) => {
        const have = comparable(type, r[field], foldEq);
        return have !== null && !same(have, want);
      };
    }
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte": {
      const want = comparable(type, operand, false) as number | string;
      return (r) => {
        const have = comparable(type, r[field], false) as number | string | null;
        if (have === null) return false;
        if (op === "$gt") return have > want;
        if (op === "$gte") return have >= want;
        if (op === "$lt") return have < want;
        return have <= want;
      };
    }
    case "$in":
    case "$notIn": {
      const set = new Set((operand as unknown[]).map((v) => comparable(type, v, foldEq)));
      const negate = op === "$notIn";
      return (r) => {
        const have = comparable(type, r[field], foldEq);
        if (have === null) return false;
        return set.has(have) !== negate;
      };
    }
    case "$contains": {
      if (arrayTypes.has(type)) return (r) => Array.isArray(r[field]) && (r[field] as unknown[]).includes(operand);
      const needle = (operand as string).toLowerCase();
      return (r) => typeof r[field] === "string" && (r[field] as string).toLowerCase().includes(needle);
    }
    case "$startsWith": {
      const needle = (operand as string).toLowerCase();
      return (r) => typeof r[field] === "string" && (r[field] as string).toLowerCase().startsWith(needle);
    }
    case "$endsWith": {
      const needle = (operand as string).toLowerCase();
      return (r) => typeof r[field] === "string" && (r[field] as string).toLowerCase().endsWith(needle);
    }
    default:
      throw new QueryError(`Unknown operator ${op} on "${field}"`);
  }
}

/**
 * Compiles a `where` object of the query DSL into a predicate, or throws a {@link QueryError}
 * naming the first problem (unknown field or operator, operand of the wrong type).
 */
export function compileWhere(entity: EntityDef, where: unknown, behaviour: BehaviourOptions): Predicate {
  if (where === undefined || where === null) return () => true;
  if (!isPlainObject(where)) throw new QueryError("where must be an object");
  const parts: Predicate[] = [];
  for (const [key, value] of Object.entries(where)) {
    if (key === "$and" || key === "$or") {
      if (!Array.isArray(value) || value.length === 0) throw new QueryError(`${key} needs a non-empty array`);
      const subs = value.map((w) => compileWhere(entity, w, behaviour));
      parts.push(key === "$and" ? (r) => subs.every((p) => p(r)) : (r) => subs.some((p) => p(r)));
      continue;
    }
    if (key === "$not") {
      if (!behaviour.extendedOperators) throw new QueryError("Unknown operator $not");
      const sub = compileWhere(entity, value, behaviour);
      parts.push((r) => !sub(r));
      continue;
    }
    if (key.startsWith("$")) throw new QueryError(`Unknown operator ${key}`);
    const type = fieldType(entity, key);
    const isOperatorObject =
      isPlainObject(value) && Object.keys(value).length > 0 && Object.keys(value).every((k) => k.startsWith("$"));
    if (!isOperatorObject) {
      parts.push(compileFieldOperator(type, key, "$eq", value, behaviour));
      continue;
    }
    for (const [op, operand] of Object.entries(value)) {
      const known = comparisonOperators.has(op) || (behaviour.extendedOperators && extendedFieldOperators.has(op));
      if (!known) throw new QueryError(`Unknown operator ${op} on "${key}"`);
      parts.push(compileFieldOperator(type, key, op, operand, behaviour));
    }
  }
  return (r) => parts.every((p) => p(r));
}

export type Direction = "ASC" | "DESC";

/** Parses `ASC`/`DESC` (either case); anything else is a {@link QueryError}. */
export function parseDirection(value: unknown): Direction {
  if (value === undefined || value === null) return "ASC";
  if (typeof value === "string" && /^(asc|desc)$/i.test(value)) return value.toUpperCase() as Direction;
  throw new QueryError(`orderDirection must be ASC or DESC, got ${JSON.stringify(value)}`);
}

/**
 * Sorts records by one field, nulls last, with `id` breaking ties so paging is stable.
 * No `orderBy` means creation order (`createdAt`, then insertion order for records created in
 * the same millisecond).
 */
export function sortRecords(
  entity: EntityDef,
  records: StoredRecord[],
  orderBy: unknown,
  direction: Direction,
): StoredRecord[] {
  let field = "createdAt";
  const explicit = orderBy !== undefined && orderBy !== null;
  if (explicit) {
    if (typeof orderBy !== "string") throw new QueryError("orderBy must be one field name");
    field = orderBy;
  }
  const type = fieldType(entity, field);
  if (!orderedTypes.has(type) && type !== "BOOLEAN") throw new QueryError(`Cannot order by ${type} field "${field}"`);
  const sign = direction === "ASC" ? 1 : -1;
  const keyed = records.map((r) => ({ r, k: comparable(type, r[field], false) as number | string | boolean | null }));
  keyed.sort((a, b) => {
    if (a.k === null || b.k === null) {
      if (a.k !== b.k) return a.k === null ? 1 : -1;
    } else if (a.k !== b.k) {
      return a.k < b.k ? -sign : sign;
    }
    // Without an orderBy, ties keep creation order (the sort is stable); with one, `id` breaks them.
    if (!explicit) return 0;
    return a.r.id < b.r.id ? -1 : a.r.id > b.r.id ? 1 : 0;
  });
  return keyed.map((x) => x.r);
}

/** Reads `limit`/`offset` from a query body or query string, clamping `limit` to the maximum. */
export function parsePaging(limit: unknown, offset: unknown, behaviour: BehaviourOptions) {
  const toInt = (name: string, v: unknown, min: number): number | undefined => {
    if (v === undefined || v === null || v === "") return undefined;
    const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min)
      throw new QueryError(`${name} must be an integer >= ${min}`);
    return n;
  };
  const l = toInt("limit", limit, 1) ?? behaviour.defaultLimit;
  return { limit: Math.min(l, behaviour.maxLimit), offset: toInt("offset", offset, 0) ?? 0 };
}
