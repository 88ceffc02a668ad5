import type { ConsoleContext } from "./context.js";
import { ConsoleRequestError, known } from "./http.js";
import { maskValue } from "./mask.js";

/**
 * The data browser: FLXBL's entities and records, read with the admin key on the server (the
 * page never holds it), read-only. Records pass through the redaction like everything else.
 */

async function flxbl<T>(ctx: ConsoleContext, method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const { url, adminKey } = ctx.info().flxbl;
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminKey}`,
      accept: "application/json",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: "manual",
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status === 404) throw new ConsoleRequestError(404, `FLXBL has no ${path.split("/").slice(2).join(" ")}`);
  if (!res.ok) throw new ConsoleRequestError(502, `FLXBL answered ${res.status} to ${method} ${path}`);
  return JSON.parse(text) as T;
}

/** Rows and total of a query with `includeCount` (FLXBL answers `{data, totalCount}`). */
async function query(ctx: ConsoleContext, entity: string, offset: number, limit: number) {
  const out = await flxbl<{ data?: Record<string, unknown>[]; totalCount?: number } | Record<string, unknown>[]>(
    ctx,
    "POST",
    `/dynamic/${encodeURIComponent(entity)}/query`,
    { orderBy: "createdAt", orderDirection: "DESC", offset, limit, includeCount: true },
  );
  const rows = Array.isArray(out) ? out : (out.data ?? []);
  return { rows, total: Array.isArray(out) ? undefined : out.totalCount };
}

/** Each entity of the schema with its record count. */
export async function listEntities(ctx: ConsoleContext) {
  const entities = await Promise.all(
    ctx.entities.map(async (name) => ({ name, count: (await query(ctx, name, 0, 1)).total ?? null })),
  );
  return { entities, writers: writersOf(ctx) };
}

/** Whether a scope lets its holder change records of `entity`. */
function writes(scope: string, entity: string): boolean {
  const [kind, name, op] = scope.split(":");
  return kind === "entity" && (name === entity || name === "*") && op !== "read";
}

/** Which functions may change each entity (from their scopes), so the page can say who changes what. */
function writersOf(ctx: ConsoleContext): Record<string, string[]> {
  return Object.fromEntries(
    ctx.entities.map((entity) => [
      entity,
      ctx.manifest.filter((spec) => spec.scopes.some((s) => writes(s, entity))).map((spec) => spec.name),
    ]),
  );
}

/** A page of an entity's records, newest first. */
export async function listRecords(ctx: ConsoleContext, entity: string, params: URLSearchParams) {
  known("entity", entity, ctx.entities, "entities");
  const offset = integer(params.get("offset"), 0, "offset", 0, 1_000_000);
  const limit = integer(params.get("limit"), 25, "limit", 1, 100);
  const { rows, total } = await query(ctx, entity, offset, limit);
  return { entity, offset, limit, total: total ?? null, records: maskValue(rows) };
}

/** One record. */
export async function getRecord(ctx: ConsoleContext, entity: string, id: string) {
  known("entity", entity, ctx.entities, "entities");
  if (!/^[\w-]{1,128}$/.test(id)) throw new ConsoleRequestError(400, `"${id}" is not a record id`);
  return maskValue(await flxbl<Record<string, unknown>>(ctx, "GET", `/dynamic/${encodeURIComponent(entity)}/${id}`));
}

function integer(text: string | null, fallback: number, name: string, min: number, max: number): number {
  if (text === null || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ConsoleRequestError(400, `${name} must be a whole number from ${min} to ${max}`);
  return value;
}
