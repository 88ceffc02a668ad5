import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { StoredRecord } from "./query.js";

/** A relationship edge between two records. */
export interface Edge {
  type: string;
  source: string;
  target: string;
  properties: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

/** An API key as stored: only the SHA-256 of the key, never the key. */
export interface StoredKey {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  scopes: string[];
  createdAt: string;
  revokedAt: string | null;
}

interface RecordRow {
  id: string;
  entity: string;
  data: string;
}

/**
 * The emulator's storage: SQLite (`node:sqlite`), a file or `:memory:`.
 *
 * Records are also held in memory per entity so queries filter and sort without re-reading
 * SQLite; every write goes to SQLite first (synchronously, before the response is sent), so
 * what was acknowledged survives a restart. Node runs one request's handler at a time between
 * awaits and every method here is synchronous, so concurrent requests cannot interleave a
 * read-check-write.
 */
export class Store {
  readonly #db: DatabaseSync;
  readonly #records = new Map<string, Map<string, StoredRecord>>();
  readonly #entityOf = new Map<string, string>();
  readonly #statements = new Map<string, StatementSync>();

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS records (
        id TEXT PRIMARY KEY, entity TEXT NOT NULL, data TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS records_entity ON records(entity);
      CREATE TABLE IF NOT EXISTS edges (
        type TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL,
        properties TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (type, source, target)
      );
      CREATE INDEX IF NOT EXISTS edges_target ON edges(type, target);
      CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT
      );
    `);
    for (const row of this.#sql(
      "SELECT id, entity, data FROM records ORDER BY rowid",
    ).all() as unknown as RecordRow[]) {
      this.#cache(row.entity, JSON.parse(row.data) as StoredRecord);
    }
  }

  /** Prepared once per SQL text: re-preparing on every request costs more than running it. */
  #sql(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #cache(entity: string, record: StoredRecord): void {
    let byId = this.#records.get(entity);
    if (!byId) {
      byId = new Map();
      this.#records.set(entity, byId);
    }
    byId.set(record.id, record);
    this.#entityOf.set(record.id, entity);
  }

  /** All records of an entity, in no particular order. */
  all(entity: string): StoredRecord[] {
    return [...(this.#records.get(entity)?.values() ?? [])];
  }

  count(entity: string): number {
    return this.#records.get(entity)?.size ?? 0;
  }

  get(entity: string, id: string): StoredRecord | undefined {
    return this.#records.get(entity)?.get(id);
  }

  /** The entity a record id belongs to, if it exists. */
  entityOf(id: string): string | undefined {
    return this.#entityOf.get(id);
  }

  /** Inserts or replaces a record. */
  put(entity: string, record: StoredRecord): void {
    this.#sql(
      "INSERT INTO records (id, entity, data) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data",
    ).run(record.id, entity, JSON.stringify(record));
    this.#cache(entity, record);
  }

  /** Deletes a record and every edge that touches it. */
  delete(entity: string, id: string): boolean {
    const existed = this.#records.get(entity)?.delete(id) ?? false;
    if (existed) {
      this.#entityOf.delete(id);
      this.#sql("DELETE FROM records WHERE id = ?").run(id);
      this.#sql("DELETE FROM edges WHERE source = ? OR target = ?").run(id, id);
    }
    return existed;
  }

  getEdge(type: string, source: string, target: string): Edge | undefined {
    const row = this.#sql("SELECT * FROM edges WHERE type = ? AND source = ? AND target = ?").get(
      type,
      source,
      target,
    ) as EdgeRow | undefined;
    return row ? toEdge(row) : undefined;
  }

  putEdge(edge: Edge): void {
    this.#sql(
      `INSERT INTO edges (type, source, target, properties, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(type, source, target) DO UPDATE SET properties = excluded.properties, updated_at = excluded.updated_at`,
    ).run(edge.type, edge.source, edge.target, JSON.stringify(edge.properties), edge.createdAt, edge.updatedAt);
  }

  deleteEdge(type: string, source: string, target: string): boolean {
    const result = this.#sql("DELETE FROM edges WHERE type = ? AND source = ? AND target = ?").run(
      type,
      source,
      target,
    );
    return Number(result.changes) > 0;
  }

  /** Edges of a type leaving (`out`) or entering (`in`) a record, oldest first. */
  edges(type: string, id: string, direction: "out" | "in"): Edge[] {
    const column = direction === "out" ? "source" : "target";
    const rows = this.#sql(
      `SELECT * FROM edges WHERE type = ? AND ${column} = ? ORDER BY created_at, source, target`,
    ).all(type, id) as unknown as EdgeRow[];
    return rows.map(toEdge);
  }

  insertKey(key: StoredKey): void {
    this.#sql(
      "INSERT INTO api_keys (id, name, prefix, hash, scopes, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL)",
    ).run(key.id, key.name, key.prefix, key.hash, JSON.stringify(key.scopes), key.createdAt);
  }

  keyByHash(hash: string): StoredKey | undefined {
    const row = this.#sql("SELECT * FROM api_keys WHERE hash = ?").get(hash) as KeyRow | undefined;
    return row ? toKey(row) : undefined;
  }

  keys(): StoredKey[] {
    return (this.#sql("SELECT * FROM api_keys ORDER BY created_at, id").all() as unknown as KeyRow[]).map(toKey);
  }

  revokeKey(id: string, at: string): boolean {
    const result = this.#sql("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(at, id);
    return Number(result.changes) > 0;
  }

  /** Removes all records and edges (keys stay). */
  clearData(): void {
    this.#db.exec("DELETE FROM records; DELETE FROM edges;");
    this.#records.clear();
    this.#entityOf.clear();
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

interface EdgeRow {
  type: string;
  source: string;
  target: string;
  properties: string;
  created_at: string;
  updated_at: string;
}

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  scopes: string;
  created_at: string;
  revoked_at: string | null;
}

function toEdge(row: EdgeRow): Edge {
  return {
    type: row.type,
    source: row.source,
    target: row.target,
    properties: JSON.parse(row.properties) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toKey(row: KeyRow): StoredKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    hash: row.hash,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}
