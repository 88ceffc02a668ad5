import { randomUUID } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { sharedDynamoDbClient } from "../aws.js";
import { stateStoreError } from "../state/errors.js";

/**
 * Counts of a run so far.
 *
 * @example
 * ```ts
 * const totals: RunTotals = { scanned: 120, changed: 7, unchanged: 112, failed: 1 };
 * ```
 */
export interface RunTotals {
  scanned: number;
  changed: number;
  unchanged: number;
  failed: number;
}

/**
 * A job run as the state table holds it between invocations.
 *
 * @example
 * ```ts
 * import { randomUUID } from "node:crypto";
 *
 * const state: RunState = {
 *   runId: randomUUID(),
 *   cursor: null,
 *   params: { cutoff: "2025-01-01T00:00:00.000Z" },
 *   totals: { scanned: 0, changed: 0, unchanged: 0, failed: 0 },
 *   startedAt: new Date().toISOString(),
 * };
 * ```
 */
export interface RunState extends Checkpoint {
  runId: string;
  /** Values fixed for the whole run (e.g. the cutoff time), so a resumed run keeps them. */
  params: Record<string, string>;
  startedAt: string;
}

/**
 * A run's progress as saved: where the sweep is, what it counted, and the page being worked on,
 * so a run whose invocation crashed resumes exactly (no record skipped, none counted twice).
 *
 * @example
 * ```ts
 * const store = new RunStore({ tableName: stateTableName(env), job: "expire-stale-orders" });
 * const checkpoint: Checkpoint = {
 *   cursor: "node_0042",
 *   totals: { scanned: 43, changed: 5, unchanged: 38, failed: 0 },
 *   page: ["node_0043", "node_0044", "node_0045"],
 *   ahead: { node_0045: "changed" },
 * };
 * await store.save(context.awsRequestId, checkpoint, Date.now() + 45_000);
 * ```
 */
export interface Checkpoint {
  /** Id of the last record done in order; the next invocation starts after it. */
  cursor: string | null;
  /** Counts of the whole run: every record done so far, `ahead` included. */
  totals: RunTotals;
  /** Ids of the page being worked on when saved (records after `cursor` may have been started). */
  page?: string[];
  /** Records of `page` after `cursor` already done, with their outcome (counted in `totals`). */
  ahead?: Record<string, "changed" | "unchanged" | "failed">;
}

/**
 * The outcome of {@link RunStore.claim}.
 *
 * @example
 * ```ts
 * const store = new RunStore({ tableName: stateTableName(env), job: "expire-stale-orders" });
 * const claim: Claim = await store.claim(context.awsRequestId, Date.now() + 45_000, { cutoff: "2026-01-01T00:00:00Z" });
 * if (claim.kind === "busy") return; // another invocation owns the run
 * const { cursor, params } = claim.state;
 * ```
 */
export type Claim =
  | { kind: "new"; state: RunState }
  | { kind: "resumed"; state: RunState }
  | { kind: "busy"; runId: string; owner: string };

const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException || (err as Error)?.name === "ConditionalCheckFailedException";

const zeroTotals = (): RunTotals => ({ scanned: 0, changed: 0, unchanged: 0, failed: 0 });

/**
 * A job's run checkpoint in the state table (`job#<name>`), owned by one invocation at a time
 * through a lease and conditional writes: two overlapping invocations cannot both own a run.
 *
 * @example
 * ```ts
 * const store = new RunStore({ tableName: stateTableName(env), job: "expire-stale-orders" });
 * // runJob claims, saves and finishes the run through it:
 * const summary = await runJob<Order>({
 *   name: "expire-stale-orders", store, entity: orders, logger,
 *   where: () => ({ status: "pending" }),
 *   process: async () => "unchanged",
 *   deadline: Date.now() + context.getRemainingTimeInMillis(),
 * });
 * ```
 */
export class RunStore {
  readonly #table: string;
  readonly #id: string;
  readonly #client: DynamoDBDocumentClient;
  readonly #now: () => number;

  /**
   * `client` defaults to a document client on a default `DynamoDBClient` (reads
   * `AWS_ENDPOINT_URL_DYNAMODB`); `now`, the clock in epoch ms, to `Date.now`.
   */
  constructor(options: { tableName: string; job: string; client?: DynamoDBDocumentClient; now?: () => number }) {
    this.#table = options.tableName;
    this.#id = `job#${options.job}`;
    this.#client = options.client ?? DynamoDBDocumentClient.from(sharedDynamoDbClient());
    this.#now = options.now ?? Date.now;
  }

  /**
   * Takes the run for `owner` until `leaseUntil`: a new run with `params` when none is saved, the
   * saved run when its lease has lapsed (a checkpoint), or `busy` when another invocation holds it.
   */
  async claim(owner: string, leaseUntil: number, params: Record<string, string>): Promise<Claim> {
    const now = this.#now();
    const state: RunState = {
      runId: randomUUID(),
      cursor: null,
      params,
      totals: zeroTotals(),
      startedAt: new Date(now).toISOString(),
    };
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: { id: this.#id, owner, leaseUntil, ...state, expiration: expiration(now) },
          ConditionExpression: "attribute_not_exists(id)",
        }),
      );
      return { kind: "new", state };
    } catch (err) {
      if (!isConditionFailure(err)) throw stateStoreError("claiming a job run", err);
    }
    try {
      const out = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { id: this.#id },
          UpdateExpression: "SET #owner = :owner, leaseUntil = :lease, expiration = :exp",
          ConditionExpression: "attribute_exists(id) AND leaseUntil < :now",
          ExpressionAttributeNames: { "#owner": "owner" },
          ExpressionAttributeValues: { ":owner": owner, ":lease": leaseUntil, ":now": now, ":exp": expiration(now) },
          ReturnValues: "ALL_NEW",
        }),
      );
      const item = out.Attributes ?? {};
      return {
        kind: "resumed",
        state: {
          runId: String(item.runId),
          cursor: typeof item.cursor === "string" ? item.cursor : null,
          params: (item.params ?? {}) as Record<string, string>,
          totals: { ...zeroTotals(), ...(item.totals as Partial<RunTotals>) },
          startedAt: String(item.startedAt),
          ...(Array.isArray(item.page) ? { page: item.page.map(String) } : {}),
          ...(typeof item.ahead === "object" && item.ahead !== null
            ? { ahead: item.ahead as Checkpoint["ahead"] }
            : {}),
        },
      };
    } catch (err) {
      if (!isConditionFailure(err)) throw stateStoreError("resuming a job run", err);
    }
    return { kind: "busy", runId: "(another run)", owner: "(another invocation)" };
  }

  /** Saves progress and extends the lease; false when this owner lost the run (its lease lapsed). */
  save(owner: string, checkpoint: Checkpoint, leaseUntil: number): Promise<boolean> {
    return this.#update(owner, checkpoint, leaseUntil);
  }

  /** Saves progress and gives the lease up, so the next invocation resumes at once. */
  release(owner: string, checkpoint: Checkpoint): Promise<boolean> {
    return this.#update(owner, checkpoint, 0);
  }

  /** Removes a finished run's checkpoint; the next invocation starts a new run. */
  async finish(owner: string): Promise<boolean> {
    try {
      await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { id: this.#id },
          ConditionExpression: "#owner = :owner",
          ExpressionAttributeNames: { "#owner": "owner" },
          ExpressionAttributeValues: { ":owner": owner },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw stateStoreError("finishing a job run", err);
    }
  }

  async #update(owner: string, checkpoint: Checkpoint, leaseUntil: number): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { id: this.#id },
          UpdateExpression:
            "SET #cursor = :cursor, totals = :totals, #page = :page, ahead = :ahead, leaseUntil = :lease, expiration = :exp",
          ConditionExpression: "#owner = :owner",
          ExpressionAttributeNames: { "#owner": "owner", "#cursor": "cursor", "#page": "page" },
          ExpressionAttributeValues: {
            ":owner": owner,
            ":cursor": checkpoint.cursor,
            ":totals": checkpoint.totals,
            ":page": checkpoint.page ?? [],
            ":ahead": checkpoint.ahead ?? {},
            ":lease": leaseUntil,
            ":exp": expiration(this.#now()),
          },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw stateStoreError("saving a job checkpoint", err);
    }
  }
}

/** A checkpoint nobody resumes for a week is left to expire. */
function expiration(now: number): number {
  return Math.ceil(now / 1000) + 7 * 24 * 3600;
}
