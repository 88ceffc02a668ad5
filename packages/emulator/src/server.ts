import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { ApiError, badRequest, conflict, errorBody, notFound } from "./errors.js";
import { covers, generateKey, hashKey, isKeyShaped, isScope, type Operation } from "./keys.js";
import { type BehaviourOptions, defaultBehaviour, type Faults, noFaults, type RateLimit } from "./options.js";
import { compileWhere, parseDirection, parsePaging, QueryError, type StoredRecord, sortRecords } from "./query.js";
import { RateLimiter } from "./rate-limit.js";
import {
  type EntityDef,
  type FieldError,
  parseSchema,
  publicView,
  type RelationshipDef,
  type SchemaDocument,
  systemFields,
  validateWrite,
} from "./schema.js";
import { type Edge, Store } from "./store.js";

/** Records and edges loaded into an empty database at start. Seed data is trusted: it may set `id`. */
export interface SeedData {
  records?: Record<string, Array<Record<string, unknown>>>;
  relationships?: Array<{ type: string; sourceId: string; targetId: string; properties?: Record<string, unknown> }>;
}

/** How to start an emulator. Only `schema` is required. */
export interface EmulatorConfig {
  /** A FLXBL schema document (parsed and validated at start). */
  schema: unknown;
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Interface to listen on. @default "127.0.0.1" */
  host?: string;
  /** SQLite file, or `:memory:`. @default ":memory:" */
  db?: string;
  /** The admin key (`flxbl_<8>_<secret>`): full access and key management. @default a new random key */
  adminKey?: string;
  /** Per-key rate limit, or `null` for none. @default null */
  rateLimit?: RateLimit | null;
  /** Answers for the points FLXBL's docs leave open. @default {@link defaultBehaviour} */
  behaviour?: Partial<BehaviourOptions>;
  /** Faults injected into API requests. @default {@link noFaults} */
  faults?: Partial<Faults>;
  /** Loaded when the database holds no records. */
  seed?: SeedData;
  /** Largest request body accepted; larger ones get 413. @default 1 MiB */
  maxBodyBytes?: number;
}

/** What can be changed while the emulator runs (`PATCH /_emulator/config` or {@link Emulator.configure}). */
export interface RuntimeConfig {
  rateLimit?: RateLimit | null;
  behaviour?: Partial<BehaviourOptions>;
  faults?: Partial<Faults>;
}

/** Request counts since start or the last reset, by route (`PATCH /dynamic/Order/:id`) and status. */
export interface EmulatorStats {
  total: number;
  routes: Record<string, number>;
  statuses: Record<string, number>;
}

/** A running emulator. */
export interface Emulator {
  /** The API base URL, like `https://api.flxbl.dev/api/v1`: what `FLXBL_URL` is set to. */
  readonly url: string;
  /** The server's origin, for the `/_emulator/*` control endpoints. */
  readonly origin: string;
  readonly port: number;
  readonly adminKey: string;
  readonly schema: SchemaDocument;
  configure(change: RuntimeConfig): void;
  stats(): EmulatorStats;
  resetStats(): void;
  /** Stops listening, ends open connections and closes the database. */
  close(): Promise<void>;
}

const rateLimitSchema = z.object({ rps: z.number().positive(), burst: z.number().int().positive() }).strict();
const runtimeConfigSchema = z
  .object({
    rateLimit: rateLimitSchema.nullable().optional(),
    behaviour: z
      .object({
        listShape: z.enum(["envelope", "array"]),
        edgeListShape: z.enum(["relationship-target", "items-count"]),
        createStatus: z.union([z.literal(200), z.literal(201)]),
        deleteStatus: z.union([z.literal(200), z.literal(204)]),
        validationStatus: z.union([z.literal(400), z.literal(422)]),
        errorMessageShape: z.enum(["string", "array"]),
        defaultLimit: z.number().int().positive(),
        maxLimit: z.number().int().positive(),
        caseInsensitiveEquality: z.boolean(),
        extendedOperators: z.boolean(),
        uniqueFields: z.record(z.string(), z.array(z.string())),
        retryAfterHeader: z.boolean(),
        rateLimitHeaders: z.boolean(),
        apiKeyListShape: z.enum(["array", "envelope"]),
      })
      .strict()
      .partial()
      .optional(),
    faults: z
      .object({
        latencyMs: z.number().min(0),
        errorRate: z.number().min(0).max(1),
        errorStatus: z.union([z.literal(500), z.literal(502), z.literal(503)]),
        rateLimitBurst: z.number().int().min(0),
        rateLimitBurstRetryAfter: z.number().int().min(0),
        errorBurst: z.number().int().min(0),
        dropResponseAfterWrite: z.number().int().min(0),
      })
      .strict()
      .partial()
      .optional(),
  })
  .strict();

interface Principal {
  id: string;
  scopes: readonly string[];
  admin: boolean;
}

interface Ctx {
  method: string;
  segments: string[];
  query: URLSearchParams;
  body: unknown;
  principal: Principal;
}

interface Reply {
  status: number;
  body?: unknown;
}

const adminScopes = ["entity:*:*", "relationship:*:*"] as const;
const anonymous: Principal = { id: "", scopes: [], admin: false };
const writeMethods = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Starts a FLXBL emulator on loopback and resolves once it is listening.
 *
 * @example
 * ```ts
 * import { readFile } from "node:fs/promises";
 *
 * const flxbl = await startEmulator({ schema: JSON.parse(await readFile("schema.json", "utf8")) });
 * const res = await fetch(`${flxbl.url}/dynamic/Order`, {
 *   headers: { authorization: `Bearer ${flxbl.adminKey}` },
 * });
 * await flxbl.close();
 * ```
 */
export async function startEmulator(config: EmulatorConfig): Promise<Emulator> {
  const schema = parseSchema(config.schema);
  const entities = new Map(schema.entities.map((e) => [e.name, e]));
  const relationships = new Map(schema.relationships.map((r) => [r.name, r]));
  const adminKey = config.adminKey ?? generateKey().key;
  if (!isKeyShaped(adminKey)) throw new Error("adminKey must look like flxbl_<8 chars>_<secret of 16+ chars>");
  let behaviour: BehaviourOptions = { ...defaultBehaviour, ...config.behaviour };
  let faults: Faults = { ...noFaults, ...config.faults };
  const limiter = new RateLimiter(config.rateLimit ?? null);
  const maxBodyBytes = config.maxBodyBytes ?? 1024 * 1024;
  const store = new Store(config.db ?? ":memory:");
  let stats: EmulatorStats = { total: 0, routes: {}, statuses: {} };

  const entityOr404 = (name: string): EntityDef => {
    const entity = entities.get(name);
    if (!entity) throw notFound(`Unknown entity "${name}" (names are case-sensitive)`);
    return entity;
  };
  const recordOr404 = (entity: EntityDef, id: string): StoredRecord => {
    const record = store.get(entity.name, id);
    if (!record) throw notFound("Entity not found");
    return record;
  };
  const view = (entity: EntityDef, record: StoredRecord) => publicView(entity.fields, record);
  const invalid = (errors: FieldError[]) => new ApiError(behaviour.validationStatus, "Validation failed", { errors });
  const checkUnique = (entity: EntityDef, candidate: Record<string, unknown>, selfId?: string) => {
    for (const field of behaviour.uniqueFields[entity.name] ?? []) {
      const value = candidate[field];
      if (value === undefined || value === null) continue;
      const clash = store.all(entity.name).find((r) => r.id !== selfId && r[field] === value);
      if (clash) throw conflict(`${entity.name}.${field} must be unique: ${JSON.stringify(value)} exists`);
    }
  };
  const now = () => new Date().toISOString();

  function createRecord(entity: EntityDef, body: unknown, trusted = false): StoredRecord {
    let input = body;
    let id = `node_${randomUUID()}`;
    const stamp = now();
    let createdAt = stamp;
    let updatedAt = stamp;
    if (trusted && body && typeof body === "object") {
      const { id: seedId, createdAt: c, updatedAt: u, ...rest } = body as Record<string, unknown>;
      if (typeof seedId === "string") id = seedId;
      if (typeof c === "string") createdAt = new Date(c).toISOString();
      if (typeof u === "string") updatedAt = new Date(u).toISOString();
      else updatedAt = createdAt;
      input = rest;
    }
    const result = validateWrite(entity.fields, input, "create");
    if (!result.ok) throw invalid(result.errors);
    checkUnique(entity, result.value);
    const record: StoredRecord = { id, ...result.value, createdAt, updatedAt };
    store.put(entity.name, record);
    return record;
  }

  function relationshipOr404(name: string): RelationshipDef {
    const rel = relationships.get(name);
    if (!rel) throw notFound(`Unknown relationship "${name}"`);
    return rel;
  }

  function edgeView(edge: Edge) {
    return {
      type: edge.type,
      sourceId: edge.source,
      targetId: edge.target,
      properties: edge.properties,
      createdAt: edge.createdAt,
      updatedAt: edge.updatedAt,
    };
  }

  function createEdge(rel: RelationshipDef, sourceId: string, body: unknown): Edge {
    if (!body || typeof body !== "object" || Array.isArray(body)) throw badRequest("body must be a JSON object");
    const { targetId, properties, ...rest } = body as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw badRequest(`Unknown body fields: ${extra.join(", ")} (expected targetId, properties)`);
    if (typeof targetId !== "string" || targetId === "") throw badRequest("targetId must be a record id");
    const target = store.get(rel.targetEntityName, targetId);
    if (!target) {
      if (store.entityOf(targetId)) throw badRequest(`${rel.name} must point at a ${rel.targetEntityName}`);
      throw notFound("Target entity not found");
    }
    const props = validateWrite(rel.fields, properties ?? {}, "create");
    if (!props.ok) throw invalid(props.errors);
    if (store.getEdge(rel.name, sourceId, targetId))
      throw conflict(`${rel.name} from ${sourceId} to ${targetId} exists`);
    const manyTargets = rel.cardinality === "ONE_TO_MANY" || rel.cardinality === "MANY_TO_MANY";
    const manySources = rel.cardinality === "MANY_TO_ONE" || rel.cardinality === "MANY_TO_MANY";
    if (!manyTargets && store.edges(rel.name, sourceId, "out").length > 0)
      throw conflict(`${rel.name} is ${rel.cardinality}: ${sourceId} already has one`);
    if (!manySources && store.edges(rel.name, targetId, "in").length > 0)
      throw conflict(`${rel.name} is ${rel.cardinality}: ${targetId} already has one`);
    const stamp = now();
    const edge: Edge = {
      type: rel.name,
      source: sourceId,
      target: targetId,
      properties: props.value,
      createdAt: stamp,
      updatedAt: stamp,
    };
    store.putEdge(edge);
    return edge;
  }

  function deleted(id: string): Reply {
    return behaviour.deleteStatus === 204 ? { status: 204 } : { status: 200, body: { id, deleted: true } };
  }

  function listEdges(ctx: Ctx, entity: EntityDef, rel: RelationshipDef, id: string): Reply {
    const direction = ctx.query.get("direction") ?? "out";
    if (direction !== "out" && direction !== "in" && direction !== "both")
      throw badRequest("direction must be out, in or both");
    const wantOut = direction !== "in" && rel.sourceEntityName === entity.name;
    const wantIn = direction !== "out" && rel.targetEntityName === entity.name;
    if (!wantOut && !wantIn)
      throw badRequest(
        `${rel.name} goes from ${rel.sourceEntityName} to ${rel.targetEntityName}; no ${direction} edges on ${entity.name}`,
      );
    const { limit, offset } = parsePaging(ctx.query.get("limit"), ctx.query.get("offset"), behaviour);
    const found = [
      ...(wantOut ? store.edges(rel.name, id, "out").map((e) => ({ e, dir: "out" as const, other: e.target })) : []),
      ...(wantIn ? store.edges(rel.name, id, "in").map((e) => ({ e, dir: "in" as const, other: e.source })) : []),
    ];
    const page = found.slice(offset, offset + limit).map(({ e, dir, other }) => {
      const otherEntity = entityOr404(dir === "out" ? rel.targetEntityName : rel.sourceEntityName);
      return { e, dir, record: view(otherEntity, recordOr404(otherEntity, other)) };
    });
    if (behaviour.edgeListShape === "items-count") {
      return {
        status: 200,
        body: {
          items: page.map(({ e, dir, record }) => ({
            ...record,
            _relationship: { type: e.type, direction: dir, properties: e.properties },
          })),
          count: found.length,
        },
      };
    }
    return {
      status: 200,
      body: page.map(({ e, dir, record }) => ({
        relationship: { type: e.type, direction: dir, properties: e.properties },
        target: record,
      })),
    };
  }

  /** Resolves a request to its route template (for stats) and the scope it needs. */
  function route(ctx: Ctx): { template: string; run: () => Reply } {
    const [root, name, id, sub, relName, targetId, ...more] = ctx.segments;
    const m = ctx.method;
    const need = (kind: "entity" | "relationship", of: string, op: Operation) => {
      if (!covers(ctx.principal.scopes, kind, of, op)) throw new ApiError(403, `Missing scope ${kind}:${of}:${op}`);
    };
    const adminOnly = () => {
      if (!ctx.principal.admin) throw new ApiError(403, "API key management needs the admin key");
    };
    if (root === "api-keys" && name === undefined) {
      if (m === "POST")
        return {
          template: "POST /api-keys",
          run: () => {
            adminOnly();
            return createKey(ctx.body);
          },
        };
      if (m === "GET")
        return {
          template: "GET /api-keys",
          run: () => {
            adminOnly();
            return listKeys(ctx);
          },
        };
    }
    if (root === "api-keys" && name !== undefined && id === undefined && m === "DELETE") {
      return {
        template: "DELETE /api-keys/:id",
        run: () => {
          adminOnly();
          if (!store.revokeKey(name, now())) throw notFound("API key not found");
          return deleted(name);
        },
      };
    }
    if (root === "dynamic" && name !== undefined && more.length === 0) {
      const base = `/dynamic/${name}`;
      if (id === undefined) {
        if (m === "GET")
          return {
            template: `GET ${base}`,
            run: () => {
              need("entity", name, "read");
              const entity = entityOr404(name);
              const { limit, offset } = parsePaging(ctx.query.get("limit"), ctx.query.get("offset"), behaviour);
              const direction = parseDirection(ctx.query.get("orderDirection") ?? undefined);
              const sorted = sortRecords(entity, store.all(name), ctx.query.get("orderBy") ?? undefined, direction);
              const data = sorted.slice(offset, offset + limit).map((r) => view(entity, r));
              if (behaviour.listShape === "array") return { status: 200, body: data };
              return { status: 200, body: { data, pagination: { limit, offset, total: sorted.length } } };
            },
          };
        if (m === "POST")
          return {
            template: `POST ${base}`,
            run: () => {
              need("entity", name, "create");
              const entity = entityOr404(name);
              return { status: behaviour.createStatus, body: view(entity, createRecord(entity, ctx.body)) };
            },
          };
      } else if (sub === undefined) {
        if (id === "query" && m === "POST")
          return {
            template: `POST ${base}/query`,
            run: () => {
              need("entity", name, "read");
              return runQuery(entityOr404(name), ctx.body);
            },
          };
        if (m === "GET")
          return {
            template: `GET ${base}/:id`,
            run: () => {
              need("entity", name, "read");
              const entity = entityOr404(name);
              return { status: 200, body: view(entity, recordOr404(entity, id)) };
            },
          };
        if (m === "PUT" || m === "PATCH")
          return {
            template: `${m} ${base}/:id`,
            run: () => {
              need("entity", name, "update");
              const entity = entityOr404(name);
              const old = recordOr404(entity, id);
              const result = validateWrite(entity.fields, ctx.body, m === "PUT" ? "replace" : "patch");
              if (!result.ok) throw invalid(result.errors);
              const kept =
                m === "PUT"
                  ? {}
                  : Object.fromEntries(
                      Object.entries(old).filter(([k]) => !(systemFields as readonly string[]).includes(k)),
                    );
              const record: StoredRecord = {
                id,
                ...kept,
                ...result.value,
                createdAt: old.createdAt,
                updatedAt: now(),
              };
              checkUnique(entity, record, id);
              store.put(name, record);
              return { status: 200, body: view(entity, record) };
            },
          };
        if (m === "DELETE")
          return {
            template: `DELETE ${base}/:id`,
            run: () => {
              need("entity", name, "delete");
              const entity = entityOr404(name);
              recordOr404(entity, id);
              store.delete(name, id);
              return deleted(id);
            },
          };
      } else if (sub === "relationships" && relName !== undefined) {
        const relBase = `${base}/:id/relationships/${relName}`;
        const withSource = (op: Operation) => {
          need("relationship", relName, op);
          const entity = entityOr404(name);
          const rel = relationshipOr404(relName);
          const record = recordOr404(entity, id);
          return { entity, rel, record };
        };
        if (targetId === undefined) {
          if (m === "POST")
            return {
              template: `POST ${relBase}`,
              run: () => {
                const { entity, rel } = withSource("create");
                if (rel.sourceEntityName !== entity.name)
                  throw badRequest(`${rel.name} goes from ${rel.sourceEntityName}; create it from that side`);
                return { status: behaviour.createStatus, body: edgeView(createEdge(rel, id, ctx.body)) };
              },
            };
          if (m === "GET")
            return {
              template: `GET ${relBase}`,
              run: () => {
                const { entity, rel } = withSource("read");
                return listEdges(ctx, entity, rel, id);
              },
            };
        } else {
          if (m === "PATCH")
            return {
              template: `PATCH ${relBase}/:targetId`,
              run: () => {
                const { rel } = withSource("update");
                const edge = store.getEdge(rel.name, id, targetId);
                if (!edge) throw notFound("Relationship not found");
                const body = ctx.body as Record<string, unknown> | null;
                const props =
                  body && typeof body === "object" && !Array.isArray(body) && "properties" in body
                    ? body.properties
                    : body;
                const result = validateWrite(rel.fields, props, "patch");
                if (!result.ok) throw invalid(result.errors);
                const updated: Edge = {
                  ...edge,
                  properties: { ...edge.properties, ...result.value },
                  updatedAt: now(),
                };
                store.putEdge(updated);
                return { status: 200, body: edgeView(updated) };
              },
            };
          if (m === "DELETE")
            return {
              template: `DELETE ${relBase}/:targetId`,
              run: () => {
                const { rel } = withSource("delete");
                if (!store.deleteEdge(rel.name, id, targetId)) throw notFound("Relationship not found");
                return deleted(targetId);
              },
            };
        }
      }
    }
    throw notFound(`Cannot ${m} /api/v1/${ctx.segments.join("/")}`);
  }

  const queryKeys = new Set(["where", "orderBy", "orderDirection", "limit", "offset", "includeCount"]);
  function runQuery(entity: EntityDef, body: unknown): Reply {
    const q = (body ?? {}) as Record<string, unknown>;
    if (typeof q !== "object" || Array.isArray(q)) throw badRequest("query body must be a JSON object");
    for (const key of Object.keys(q)) {
      if (key === "traverse") throw badRequest("traverse is not supported by this emulator");
      if (!queryKeys.has(key)) throw badRequest(`Unknown query option "${key}"`);
    }
    if (q.includeCount !== undefined && typeof q.includeCount !== "boolean")
      throw badRequest("includeCount must be a boolean");
    const predicate = compileWhere(entity, q.where, behaviour);
    const { limit, offset } = parsePaging(q.limit, q.offset, behaviour);
    const matches = sortRecords(
      entity,
      store.all(entity.name).filter(predicate),
      q.orderBy,
      parseDirection(q.orderDirection),
    );
    const data = matches.slice(offset, offset + limit).map((r) => view(entity, r));
    return { status: 200, body: q.includeCount ? { data, totalCount: matches.length } : data };
  }

  function createKey(body: unknown): Reply {
    const b = (body ?? {}) as Record<string, unknown>;
    const errors: FieldError[] = [];
    if (typeof b.name !== "string" || b.name.trim() === "" || b.name.length > 255)
      errors.push({ field: "name", message: "name must be a non-empty string of at most 255 characters" });
    if (!Array.isArray(b.scopes) || b.scopes.length === 0)
      errors.push({ field: "scopes", message: "scopes must be a non-empty array" });
    else
      for (const s of b.scopes)
        if (!isScope(s))
          errors.push({
            field: "scopes",
            message: "scopes look like entity:{Name|*}:{create|read|update|delete|*} or relationship:{TYPE|*}:{...}",
            actualValue: s,
          });
    if (errors.length > 0) throw new ApiError(400, "Validation failed", { errors });
    const { id, key, prefix } = generateKey();
    const createdAt = now();
    const scopes = [...new Set(b.scopes as string[])];
    store.insertKey({ id, name: b.name as string, prefix, hash: hashKey(key), scopes, createdAt, revokedAt: null });
    return { status: behaviour.createStatus, body: { id, name: b.name, key, scopes, createdAt } };
  }

  function listKeys(ctx: Ctx): Reply {
    const keys = store
      .keys()
      .filter((k) => k.revokedAt === null)
      .map((k) => ({ id: k.id, name: k.name, keyPrefix: k.prefix, scopes: k.scopes, createdAt: k.createdAt }));
    const rawLimit = ctx.query.get("limit");
    const rawOffset = ctx.query.get("offset");
    if (behaviour.apiKeyListShape === "envelope") {
      const { limit, offset } = parsePaging(rawLimit, rawOffset, behaviour);
      return {
        status: 200,
        body: { data: keys.slice(offset, offset + limit), pagination: { limit, offset, total: keys.length } },
      };
    }
    if (rawLimit === null && rawOffset === null) return { status: 200, body: keys };
    const { limit, offset } = parsePaging(rawLimit, rawOffset, behaviour);
    return { status: 200, body: keys.slice(offset, offset + limit) };
  }

  function authenticate(req: IncomingMessage): Principal {
    const header = req.headers.authorization;
    const token = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
    if (!token) throw new ApiError(401, "Missing API key: send Authorization: Bearer <key>");
    if (token === adminKey) return { id: "admin", scopes: adminScopes, admin: true };
    const stored = isKeyShaped(token) ? store.keyByHash(hashKey(token)) : undefined;
    if (!stored || stored.revokedAt !== null) throw new ApiError(401, "Invalid or revoked API key");
    return { id: stored.id, scopes: stored.scopes, admin: false };
  }

  function throttled(seconds: number, limitHeaders: Record<string, string> = {}): ApiError {
    const headers: Record<string, string> = behaviour.retryAfterHeader
      ? { ...limitHeaders, "retry-after": String(Math.max(0, Math.ceil(seconds))) }
      : { ...limitHeaders };
    return new ApiError(429, "ThrottlerException: Too Many Requests", {}, headers);
  }

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBodyBytes) throw new ApiError(413, `Request body is larger than ${maxBodyBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    if (size === 0) return undefined;
    const type = req.headers["content-type"] ?? "";
    if (!/^application\/json\b/i.test(type))
      throw new ApiError(415, `Send JSON bodies with Content-Type: application/json (got "${type}")`);
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (err) {
      throw badRequest(`Body is not valid JSON: ${(err as Error).message}`);
    }
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    if (body === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    const text = JSON.stringify(body);
    res
      .writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "content-length": String(Buffer.byteLength(text)),
        ...headers,
      })
      .end(text);
  }

  function count(template: string, status: number) {
    stats.total += 1;
    stats.routes[template] = (stats.routes[template] ?? 0) + 1;
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
  }

  function applyRuntimeConfig(change: RuntimeConfig) {
    if (change.rateLimit !== undefined) limiter.limit = change.rateLimit;
    if (change.behaviour) behaviour = { ...behaviour, ...change.behaviour };
    if (change.faults) faults = { ...faults, ...change.faults };
  }

  function currentConfig() {
    return { rateLimit: limiter.limit, behaviour, faults };
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, path: string) {
    if (path === "/_emulator/health" && req.method === "GET") return send(res, 200, { ok: true });
    const principal = authenticate(req);
    if (!principal.admin) throw new ApiError(403, "The emulator's control endpoints need the admin key");
    const body = await readBody(req);
    if (path === "/_emulator/config" && req.method === "GET") return send(res, 200, currentConfig());
    if (path === "/_emulator/config" && req.method === "PATCH") {
      const parsed = runtimeConfigSchema.safeParse(body ?? {});
      if (!parsed.success)
        throw badRequest(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
      applyRuntimeConfig(parsed.data as RuntimeConfig);
      return send(res, 200, currentConfig());
    }
    if (path === "/_emulator/stats" && req.method === "GET") return send(res, 200, stats);
    if (path === "/_emulator/stats" && req.method === "DELETE") {
      stats = { total: 0, routes: {}, statuses: {} };
      return send(res, 204, undefined);
    }
    if (path === "/_emulator/reset" && req.method === "POST") {
      store.clearData();
      faults = { ...noFaults };
      limiter.refill();
      stats = { total: 0, routes: {}, statuses: {} };
      return send(res, 204, undefined);
    }
    throw notFound(`Cannot ${req.method} ${path}`);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<string> {
    const method = req.method ?? "GET";
    let segments: string[];
    try {
      segments = url.pathname.slice("/api/v1/".length).split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      throw badRequest("Malformed path");
    }
    // The route's closures read principal and body when they run, after auth and body reading.
    const ctx: Ctx = { method, segments, query: url.searchParams, body: undefined, principal: anonymous };
    const { template, run } = route(ctx);
    let reply: Reply;
    let limitHeaders: Record<string, string> = {};
    try {
      if (faults.latencyMs > 0) await sleep(faults.latencyMs);
      if (faults.rateLimitBurst > 0) {
        faults.rateLimitBurst -= 1;
        throw throttled(faults.rateLimitBurstRetryAfter);
      }
      if (faults.errorBurst > 0 || (faults.errorRate > 0 && Math.random() < faults.errorRate)) {
        if (faults.errorBurst > 0) faults.errorBurst -= 1;
        throw new ApiError(faults.errorStatus, "Injected fault");
      }
      ctx.principal = authenticate(req);
      const wait = limiter.take(ctx.principal.id);
      if (behaviour.rateLimitHeaders) limitHeaders = limiter.headers(ctx.principal.id);
      if (wait > 0) throw throttled(wait, limitHeaders);
      if (writeMethods.has(method)) ctx.body = await readBody(req);
      reply = run();
    } catch (err) {
      const apiError = err instanceof QueryError ? badRequest(err.message) : err;
      throw Object.assign(apiError as Error, { template });
    }
    if (writeMethods.has(method) && segments[0] === "dynamic" && faults.dropResponseAfterWrite > 0) {
      faults.dropResponseAfterWrite -= 1;
      res.socket?.destroy();
      return template;
    }
    send(res, reply.status, reply.body, limitHeaders);
    return template;
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://emulator");
    const isControl = url.pathname.startsWith("/_emulator/");
    const work = isControl
      ? handleControl(req, res, url.pathname).then(() => undefined)
      : url.pathname.startsWith("/api/v1/")
        ? handleApi(req, res, url)
        : Promise.reject(notFound(`Cannot ${req.method} ${url.pathname}`));
    work.then(
      (template) => {
        if (template) count(template, res.statusCode);
      },
      (err: unknown) => {
        const apiError = err instanceof ApiError ? err : new ApiError(500, "Internal server error");
        if (!(err instanceof ApiError)) console.error("[flxbl-emulator] unexpected error", err);
        if (!isControl) count((err as { template?: string }).template ?? `${req.method} (unmatched)`, apiError.status);
        // A body we refused to read (413) must not be parsed as the next request on this socket.
        // The socket is taken from `res` before sending: `req.socket` is null once the unread
        // request was destroyed, and `res.socket` once the response has finished.
        const socket = res.socket;
        if (apiError.status === 413) res.once("finish", () => socket?.destroy());
        if (!res.headersSent)
          send(res, apiError.status, errorBody(apiError, behaviour.errorMessageShape), apiError.headers);
      },
    );
  });
  // Longer than undici's idle timeout so a kept-alive socket is never closed under a client.
  server.keepAliveTimeout = 65_000;

  if (config.seed && schema.entities.every((e) => store.count(e.name) === 0)) {
    try {
      loadSeed(config.seed);
    } catch (err) {
      // A half-loaded seed would make the database non-empty, so the corrected seed would be
      // skipped on the next start: leave it empty as found, and release the file.
      store.clearData();
      store.close();
      throw err;
    }
  }

  function loadSeed(seed: SeedData) {
    for (const [name, rows] of Object.entries(seed.records ?? {})) {
      const entity = entities.get(name);
      if (!entity) throw new Error(`Seed data names unknown entity ${name}`);
      for (const row of rows) {
        try {
          createRecord(entity, row, true);
        } catch (err) {
          const detail = err instanceof ApiError ? JSON.stringify(err.extra.errors ?? err.message) : String(err);
          throw new Error(`Seed record of ${name} is invalid: ${detail}`);
        }
      }
    }
    for (const edge of seed.relationships ?? []) {
      const rel = relationships.get(edge.type);
      if (!rel) throw new Error(`Seed data names unknown relationship ${edge.type}`);
      if (!store.get(rel.sourceEntityName, edge.sourceId))
        throw new Error(`Seed edge ${edge.type} names unknown source ${edge.sourceId}`);
      try {
        createEdge(rel, edge.sourceId, { targetId: edge.targetId, properties: edge.properties });
      } catch (err) {
        const detail = err instanceof ApiError ? JSON.stringify(err.extra.errors ?? err.message) : String(err);
        throw new Error(`Seed edge ${edge.type} from ${edge.sourceId} to ${edge.targetId} is invalid: ${detail}`);
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port ?? 0, config.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const origin = `http://${host}:${address.port}`;

  return {
    url: `${origin}/api/v1`,
    origin,
    port: address.port,
    adminKey,
    schema,
    configure: applyRuntimeConfig,
    stats: () => structuredClone(stats),
    resetStats: () => {
      stats = { total: 0, routes: {}, statuses: {} };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => {
          store.close();
          if (err) reject(err);
          else resolve();
        });
        server.closeAllConnections();
      }),
  };
}
