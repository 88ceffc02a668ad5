import { createHash } from "node:crypto";
import { z } from "zod";

export const fieldTypes = [
  "STRING",
  "TEXT",
  "NUMBER",
  "FLOAT",
  "BOOLEAN",
  "DATETIME",
  "JSON",
  "ENUM",
  "STRING_ARRAY",
  "NUMBER_ARRAY",
  "FLOAT_ARRAY",
  "FILE",
  "VECTOR",
  "PASSWORD",
] as const;

export type FieldType = (typeof fieldTypes)[number];

/** Names the emulator manages itself; a write that sets one is rejected. */
export const systemFields = ["id", "createdAt", "updatedAt"] as const;

const fieldSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "field names are identifiers")
      .refine((n) => !(systemFields as readonly string[]).includes(n), "id, createdAt and updatedAt are reserved"),
    type: z.enum(fieldTypes),
    required: z.boolean().default(false),
    description: z.string().optional(),
    enumValues: z.array(z.string()).min(1).optional(),
    vectorDimensions: z.number().int().positive().optional(),
  })
  .refine((f) => f.type !== "ENUM" || f.enumValues !== undefined, "ENUM fields need enumValues")
  .refine((f) => f.type !== "VECTOR" || f.vectorDimensions !== undefined, "VECTOR fields need vectorDimensions");

const entitySchema = z.object({
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, "entity names are identifiers"),
  description: z.string().optional(),
  fields: z.array(fieldSchema),
});

const relationshipSchema = z.object({
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, "relationship names are identifiers"),
  description: z.string().optional(),
  sourceEntityName: z.string(),
  targetEntityName: z.string(),
  cardinality: z.enum(["ONE_TO_ONE", "ONE_TO_MANY", "MANY_TO_ONE", "MANY_TO_MANY"]).default("MANY_TO_MANY"),
  fields: z.array(fieldSchema).default([]),
});

/** A FLXBL schema document: `{name, version, description, entities, relationships}`. */
export const schemaDocumentSchema = z
  .object({
    name: z.string(),
    version: z.union([z.string(), z.number()]).optional(),
    description: z.string().optional(),
    entities: z.array(entitySchema).min(1),
    relationships: z.array(relationshipSchema).default([]),
  })
  .superRefine((doc, ctx) => {
    const names = new Set<string>();
    for (const e of doc.entities) {
      if (names.has(e.name)) ctx.addIssue({ code: "custom", message: `entity ${e.name} is declared twice` });
      names.add(e.name);
      const fields = new Set<string>();
      for (const f of e.fields) {
        if (fields.has(f.name)) ctx.addIssue({ code: "custom", message: `${e.name}.${f.name} is declared twice` });
        fields.add(f.name);
      }
    }
    for (const r of doc.relationships) {
      for (const end of [r.sourceEntityName, r.targetEntityName]) {
        if (!names.has(end))
          ctx.addIssue({ code: "custom", message: `relationship ${r.name} names unknown entity ${end}` });
      }
    }
  });

export type SchemaDocument = z.infer<typeof schemaDocumentSchema>;
export type EntityDef = SchemaDocument["entities"][number];
export type FieldDef = EntityDef["fields"][number];
export type RelationshipDef = SchemaDocument["relationships"][number];

/** One per-field problem, in the shape FLXBL's validation errors use. */
export interface FieldError {
  field: string;
  message: string;
  expectedType?: string;
  actualValue?: unknown;
}

/** Parses a schema document, throwing an error that lists every problem. */
export function parseSchema(input: unknown): SchemaDocument {
  const result = schemaDocumentSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`Invalid FLXBL schema document:\n  ${lines.join("\n  ")}`);
  }
  return result.data;
}

const isoDateTime = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Whether `value` is an ISO 8601 date or date-time that names a real instant. */
export function isIsoDateTime(value: unknown): value is string {
  if (typeof value !== "string" || !isoDateTime.test(value) || Number.isNaN(Date.parse(value))) return false;
  // Date.parse rolls a day past the month's end over (2023-02-29 becomes March 1st): refuse it instead.
  const [year, month, day] = value.slice(0, 10).split("-").map(Number) as [number, number, number];
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function typeError(field: FieldDef, value: unknown, message: string): FieldError {
  return { field: field.name, message, expectedType: field.type, actualValue: value };
}

const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Checks one non-null value against its field's type; returns the stored value or an error. */
function coerceField(field: FieldDef, value: unknown): { value: unknown } | { error: FieldError } {
  switch (field.type) {
    case "STRING":
      if (typeof value !== "string") return { error: typeError(field, value, `${field.name} must be a string`) };
      if (value.length > 255)
        return { error: typeError(field, value.length, `${field.name} must be at most 255 characters`) };
      return { value };
    case "TEXT":
    case "FILE":
      if (typeof value !== "string") return { error: typeError(field, value, `${field.name} must be a string`) };
      return { value };
    case "PASSWORD":
      if (typeof value !== "string" || value.length === 0)
        return { error: typeError(field, undefined, `${field.name} must be a non-empty string`) };
      // Stored hashed and never returned; the value itself is kept out of the error too.
      return { value: `sha256:${createHash("sha256").update(value).digest("hex")}` };
    case "NUMBER":
      if (!Number.isSafeInteger(value)) return { error: typeError(field, value, `${field.name} must be an integer`) };
      return { value };
    case "FLOAT":
      if (!isFiniteNumber(value)) return { error: typeError(field, value, `${field.name} must be a number`) };
      return { value };
    case "BOOLEAN":
      if (typeof value !== "boolean") return { error: typeError(field, value, `${field.name} must be a boolean`) };
      return { value };
    case "DATETIME":
      if (!isIsoDateTime(value))
        return { error: typeError(field, value, `${field.name} must be an ISO 8601 date-time`) };
      return { value: new Date(value).toISOString() };
    case "JSON":
      return { value };
    case "ENUM":
      if (typeof value !== "string" || !field.enumValues?.includes(value))
        return {
          error: typeError(field, value, `${field.name} must be one of ${(field.enumValues ?? []).join(", ")}`),
        };
      return { value };
    case "STRING_ARRAY":
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string"))
        return { error: typeError(field, value, `${field.name} must be an array of strings`) };
      return { value };
    case "NUMBER_ARRAY":
      if (!Array.isArray(value) || !value.every((v) => Number.isSafeInteger(v)))
        return { error: typeError(field, value, `${field.name} must be an array of integers`) };
      return { value };
    case "FLOAT_ARRAY":
      if (!Array.isArray(value) || !value.every(isFiniteNumber))
        return { error: typeError(field, value, `${field.name} must be an array of numbers`) };
      return { value };
    case "VECTOR":
      if (!Array.isArray(value) || !value.every(isFiniteNumber) || value.length !== field.vectorDimensions)
        return {
          error: typeError(field, value, `${field.name} must be an array of ${field.vectorDimensions} numbers`),
        };
      return { value };
  }
}

export type WriteMode = "create" | "replace" | "patch";

/**
 * Validates a write body against an entity's (or relationship's) fields.
 *
 * `create` and `replace` need every required field; `patch` checks only what it sends.
 * `null` clears an optional field. Unknown and system fields are errors.
 */
export function validateWrite(
  fields: readonly FieldDef[],
  body: unknown,
  mode: WriteMode,
): { ok: true; value: Record<string, unknown> } | { ok: false; errors: FieldError[] } {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return { ok: false, errors: [{ field: "(body)", message: "body must be a JSON object", actualValue: body }] };
  }
  const input = body as Record<string, unknown>;
  const byName = new Map(fields.map((f) => [f.name, f]));
  const errors: FieldError[] = [];
  const value: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(input)) {
    if ((systemFields as readonly string[]).includes(name)) {
      errors.push({ field: name, message: `${name} is set by FLXBL and cannot be written`, actualValue: raw });
      continue;
    }
    const field = byName.get(name);
    if (!field) {
      errors.push({ field: name, message: `${name} is not a field of this entity`, actualValue: raw });
      continue;
    }
    if (raw === null || raw === undefined) {
      if (field.required) errors.push(typeError(field, raw, `${name} is required`));
      else value[name] = null;
      continue;
    }
    const result = coerceField(field, raw);
    if ("error" in result) errors.push(result.error);
    else value[name] = result.value;
  }
  if (mode !== "patch") {
    for (const field of fields) {
      if (field.required && !(field.name in input)) {
        errors.push({ field: field.name, message: `${field.name} is required`, expectedType: field.type });
      }
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value };
}

/** Removes what is never returned (PASSWORD fields) from a stored record. */
export function publicView(fields: readonly FieldDef[], data: Record<string, unknown>): Record<string, unknown> {
  const hidden = fields.filter((f) => f.type === "PASSWORD");
  if (hidden.length === 0) return data;
  const copy = { ...data };
  for (const f of hidden) delete copy[f.name];
  return copy;
}
