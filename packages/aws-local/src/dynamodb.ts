import { EventEmitter } from "node:events";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32 } from "node:zlib";
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";

/** A running dynalite (DynamoDB on loopback). */
export interface LocalDynamoDB {
  /** What `AWS_ENDPOINT_URL_DYNAMODB` is set to. */
  readonly url: string;
  /** Requests received, by operation (`PutItem`, `TransactWriteItems`, ...), since the start or {@link resetCalls}. */
  readonly calls: Record<string, number>;
  resetCalls(): void;
  close(): Promise<void>;
}

/** Options of {@link startLocalDynamoDB}. */
export interface LocalDynamoDBOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** LevelDB folder, so data survives restarts. @default in memory */
  path?: string;
}

/**
 * Starts dynalite, the pure-JS DynamoDB implementation, on loopback: in memory, or in a LevelDB
 * folder when `path` is given (data then survives restarts).
 *
 * dynalite lacks two things DynamoDB has and this app uses, added here in front of it with
 * DynamoDB's documented behaviour (tested in `dynamodb.test.ts` against the API reference):
 * - `TransactWriteItems`: up to 100 `Put`/`Update`/`Delete`/`ConditionCheck` actions on distinct
 *   items, all applied or none; a failed condition cancels the whole request with
 *   `TransactionCanceledException`, whose `CancellationReasons` hold one entry per action, in order
 *   (`None` or `ConditionalCheckFailed`, with the item when the action asked for
 *   `ReturnValuesOnConditionCheckFailure: ALL_OLD`); `ClientRequestToken` makes a repeated request
 *   a no-op for 10 minutes (`IdempotentParameterMismatchException` when its actions differ). Each
 *   transaction runs alone (no other request is served meanwhile), so it never conflicts: the
 *   `TransactionConflict` cancellations DynamoDB can answer under contention do not happen here.
 * - `ReturnValuesOnConditionCheckFailure: ALL_OLD` on `PutItem`, `UpdateItem` and `DeleteItem`:
 *   the `ConditionalCheckFailedException` carries the item that failed the condition.
 *
 * @example
 * ```ts
 * const ddb = await startLocalDynamoDB();
 * process.env.AWS_ENDPOINT_URL_DYNAMODB = ddb.url;
 * ```
 */
export async function startLocalDynamoDB(options: LocalDynamoDBOptions = {}): Promise<LocalDynamoDB> {
  const server = dynalite({ path: options.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const [inner] = server.listeners("request") as RequestListener[];
  if (!inner) throw new Error("dynalite has no request handler");
  const edge = new DynamoDBEdge(inner);
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    edge.handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/x-amz-json-1.0" });
      res.end(JSON.stringify({ __type: "com.amazonaws.dynamodb.v20120810#InternalServerError", message: String(err) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get calls() {
      return edge.calls;
    },
    resetCalls: () => edge.reset(),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err?: Error) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * Creates the state table as the `Storage` stack defines it (partition key `id`, on-demand),
 * unless it exists. dynalite does not expire items; Powertools and the lock check expiry
 * themselves, so TTL only matters for clean-up in AWS.
 */
export async function ensureStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (err) {
    if ((err as Error).name !== "ResourceNotFoundException") throw err;
  }
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
}

// biome-ignore lint/suspicious/noExplicitAny: DynamoDB wire JSON, read field by field as the API reference shapes it
type Json = Record<string, any>;
/** An answer of dynalite's, or of the edge: status, headers, JSON body. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const api = "DynamoDB_20120810";
const errorType = (name: string) => `com.amazonaws.dynamodb.v20120810#${name}`;
const writes = new Set(["PutItem", "UpdateItem", "DeleteItem"]);
/** How long DynamoDB remembers a `ClientRequestToken`. */
const tokenLifetimeMs = 10 * 60 * 1000;
const transactionActions = ["Put", "Update", "Delete", "ConditionCheck"] as const;

/** Readers share, a writer runs alone; waiters are served in arrival order, so neither starves. */
class Gate {
  #readers = 0;
  #writing = false;
  readonly #waiting: Array<{ exclusive: boolean; enter: () => void }> = [];

  async run<T>(exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    if (this.#waiting.length === 0 && this.#canEnter(exclusive)) this.#take(exclusive);
    else await new Promise<void>((enter) => this.#waiting.push({ exclusive, enter }));
    try {
      return await fn();
    } finally {
      if (exclusive) this.#writing = false;
      else this.#readers--;
      this.#pump();
    }
  }

  #canEnter(exclusive: boolean): boolean {
    return exclusive ? !this.#writing && this.#readers === 0 : !this.#writing;
  }

  #take(exclusive: boolean): void {
    if (exclusive) this.#writing = true;
    else this.#readers++;
  }

  #pump(): void {
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0] as { exclusive: boolean; enter: () => void };
      if (!this.#canEnter(next.exclusive)) return;
      this.#waiting.shift();
      this.#take(next.exclusive);
      next.enter();
    }
  }
}

/** What sits between the SDK and dynalite: counts requests, adds what dynalite lacks. */
class DynamoDBEdge {
  calls: Record<string, number> = {};
  readonly #gate = new Gate();
  readonly #keySchemas = new Map<string, string[]>();
  readonly #tokens = new Map<string, { fingerprint: string; at: number }>();

  constructor(private readonly inner: RequestListener) {}

  reset(): void {
    this.calls = {};
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") {
      this.calls["(not POST)"] = (this.calls["(not POST)"] ?? 0) + 1;
      this.inner(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const [prefix, operation = ""] = String(req.headers["x-amz-target"] ?? "").split(".");
    this.calls[operation || "(none)"] = (this.calls[operation || "(none)"] ?? 0) + 1;
    const headers = req.headers as Record<string, string>;
    let request: Json | undefined;
    try {
      request = JSON.parse(body) as Json;
    } catch {
      request = undefined;
    }
    let answer: Answer;
    if (prefix === api && operation === "TransactWriteItems" && request)
      answer = await this.#gate.run(true, () => this.#transact(headers, request as Json));
    else if (prefix === api && writes.has(operation) && request?.ReturnValuesOnConditionCheckFailure === "ALL_OLD")
      answer = await this.#gate.run(true, () => this.#writeReturningItem(headers, operation, request as Json, body));
    else answer = await this.#gate.run(false, () => this.#call(headers, operation, body));
    if (operation === "CreateTable" || operation === "DeleteTable") this.#keySchemas.clear();
    res.writeHead(answer.status, {
      ...answer.headers,
      "content-length": Buffer.byteLength(answer.body),
      "x-amz-crc32": crc32(answer.body),
    });
    res.end(answer.body);
  }

  /** One request to dynalite, in process, as if it came over HTTP. */
  #call(headers: Record<string, string>, operation: string, body: string): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const req = Object.assign(new EventEmitter(), {
        method: "POST",
        url: "/",
        headers: { ...headers, "x-amz-target": `${api}.${operation}` },
      });
      const out: Record<string, string> = {};
      const res = {
        statusCode: 200,
        contentType: "",
        setHeader(name: string, value: string | number) {
          out[name.toLowerCase()] = String(value);
        },
        end(chunk?: string | Buffer) {
          const { "content-length": _, "x-amz-crc32": __, ...rest } = out;
          resolve({ status: this.statusCode, headers: rest, body: chunk === undefined ? "" : String(chunk) });
        },
      };
      try {
        this.inner(req as unknown as IncomingMessage, res as unknown as ServerResponse);
        req.emit("data", Buffer.from(body, "utf8"));
        req.emit("end");
      } catch (err) {
        reject(err);
      }
    });
  }

  async #json(
    headers: Record<string, string>,
    operation: string,
    request: Json,
  ): Promise<{ answer: Answer; out: Json }> {
    const answer = await this.#call(headers, operation, JSON.stringify(request));
    return { answer, out: answer.body ? (JSON.parse(answer.body) as Json) : {} };
  }

  async #keySchema(headers: Record<string, string>, table: string): Promise<string[]> {
    const known = this.#keySchemas.get(table);
    if (known) return known;
    const { answer, out } = await this.#json(headers, "DescribeTable", { TableName: table });
    if (answer.status !== 200) return [];
    const schema = out.Table?.KeySchema as Array<{ AttributeName: string; KeyType: string }>;
    // The partition key first, then the sort key.
    const names = [...schema.filter((k) => k.KeyType === "HASH"), ...schema.filter((k) => k.KeyType !== "HASH")].map(
      (k) => k.AttributeName,
    );
    this.#keySchemas.set(table, names);
    return names;
  }

  /** The key of the item an action addresses (from its `Key`, or from a put's `Item`). */
  async #keyOf(headers: Record<string, string>, table: string, action: Json): Promise<Json> {
    if (action.Key) return action.Key as Json;
    const names = await this.#keySchema(headers, table);
    return Object.fromEntries(names.map((n) => [n, (action.Item as Json | undefined)?.[n]]));
  }

  async #getItem(headers: Record<string, string>, table: string, key: Json): Promise<Json | undefined> {
    const { out } = await this.#json(headers, "GetItem", { TableName: table, Key: key, ConsistentRead: true });
    return out.Item as Json | undefined;
  }

  /** A single write asking for the item a failed condition saw: runs alone, so the item read is that one. */
  async #writeReturningItem(headers: Record<string, string>, operation: string, request: Json, body: string) {
    const answer = await this.#call(headers, operation, body);
    if (answer.status !== 400 || !answer.body.includes("ConditionalCheckFailedException")) return answer;
    const item = await this.#getItem(
      headers,
      request.TableName,
      await this.#keyOf(headers, request.TableName, request),
    );
    if (!item) return answer;
    return { ...answer, body: JSON.stringify({ ...(JSON.parse(answer.body) as Json), Item: item }) };
  }

  #error(name: string, message: string, extra: Json = {}): Answer {
    // DynamoDB spells it `Message` for the transaction errors, `message` for the others.
    const field = name.startsWith("Transaction") || name.startsWith("Idempotent") ? "Message" : "message";
    return {
      status: 400,
      headers: { "content-type": "application/x-amz-json-1.0" },
      body: JSON.stringify({ __type: errorType(name), [field]: message, ...extra }),
    };
  }

  /** `TransactWriteItems` as the API reference describes it; see {@link startLocalDynamoDB}. Runs alone. */
  async #transact(headers: Record<string, string>, request: Json): Promise<Answer> {
    const items = request.TransactItems as Json[] | undefined;
    if (!Array.isArray(items) || items.length < 1 || items.length > 100)
      return this.#error(
        "ValidationException",
        "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length between 1 and 100",
      );
    const now = Date.now();
    for (const [token, seen] of this.#tokens) if (now - seen.at > tokenLifetimeMs) this.#tokens.delete(token);
    const token = request.ClientRequestToken as string | undefined;
    const fingerprint = JSON.stringify(items);
    const earlier = token === undefined ? undefined : this.#tokens.get(token);
    if (earlier)
      return earlier.fingerprint === fingerprint
        ? { status: 200, headers: { "content-type": "application/x-amz-json-1.0" }, body: "{}" }
        : this.#error(
            "IdempotentParameterMismatchException",
            "Request with the same client token was made earlier with different parameters",
          );

    const actions: Array<{ kind: (typeof transactionActions)[number]; action: Json; table: string; key: Json }> = [];
    const seenItems = new Set<string>();
    for (const item of items) {
      const kinds = transactionActions.filter((k) => item[k] !== undefined);
      if (kinds.length !== 1)
        return this.#error("ValidationException", "TransactItems can only contain one of Check, Put, Update or Delete");
      const kind = kinds[0] as (typeof transactionActions)[number];
      const action = item[kind] as Json;
      const table = action.TableName as string;
      const key = await this.#keyOf(headers, table, action);
      const itemId = JSON.stringify([table, key]);
      if (seenItems.has(itemId))
        return this.#error("ValidationException", "Transaction request cannot include multiple operations on one item");
      seenItems.add(itemId);
      actions.push({ kind, action, table, key });
    }

    // Each action as its single-item write (the condition evaluated by dynalite), keeping the old
    // item to put back: nothing else runs meanwhile, so a cancelled transaction leaves no trace.
    const applied: Array<{ table: string; key: Json; old: Json | undefined }> = [];
    const reasons: Json[] = [];
    const undo = async () => {
      for (const { table, key, old } of applied.reverse())
        await (old
          ? this.#json(headers, "PutItem", { TableName: table, Item: old })
          : this.#json(headers, "DeleteItem", { TableName: table, Key: key }));
    };
    for (const { kind, action, table, key } of actions) {
      const { ReturnValuesOnConditionCheckFailure: wantsItem, ...rest } = action;
      const [operation, single] =
        kind === "Put"
          ? ["PutItem", rest]
          : kind === "Update"
            ? ["UpdateItem", rest]
            : kind === "Delete"
              ? ["DeleteItem", rest]
              : // A check is an update that changes nothing (and is always undone: on a missing item it creates one).
                ["UpdateItem", rest];
      const { answer, out } = await this.#json(headers, operation, { ...single, ReturnValues: "ALL_OLD" });
      if (answer.status === 200) {
        applied.push({ table, key, old: out.Attributes as Json | undefined });
        reasons.push({ Code: "None" });
      } else if (answer.body.includes("ConditionalCheckFailedException")) {
        const item = wantsItem === "ALL_OLD" ? await this.#getItem(headers, table, key) : undefined;
        reasons.push({
          Code: "ConditionalCheckFailed",
          Message: "The conditional request failed",
          ...(item ? { Item: item } : {}),
        });
      } else {
        await undo();
        return answer;
      }
    }
    const failed = reasons.some((r) => r.Code !== "None");
    if (failed) {
      await undo();
      const codes = reasons.map((r) => r.Code).join(", ");
      return this.#error(
        "TransactionCanceledException",
        `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`,
        { CancellationReasons: reasons },
      );
    }
    // Checks change nothing.
    for (const [i, { kind }] of actions.entries()) {
      if (kind !== "ConditionCheck") continue;
      const done = applied[i] as { table: string; key: Json; old: Json | undefined };
      if (!done.old) await this.#json(headers, "DeleteItem", { TableName: done.table, Key: done.key });
    }
    if (token !== undefined) this.#tokens.set(token, { fingerprint, at: Date.now() });
    return { status: 200, headers: { "content-type": "application/x-amz-json-1.0" }, body: "{}" };
  }
}
