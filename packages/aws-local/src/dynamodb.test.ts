import { randomUUID } from "node:crypto";
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  IdempotentParameterMismatchException,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureStateTable, type LocalDynamoDB, startLocalDynamoDB } from "./dynamodb.js";

const TableName = "edge-test";

/**
 * What the stand-in adds to dynalite, held to the DynamoDB API reference (TransactWriteItems,
 * CancellationReason, ConditionalCheckFailedException) through the unchanged AWS SDK.
 */
describe("local DynamoDB: TransactWriteItems and ReturnValuesOnConditionCheckFailure as DynamoDB documents them", () => {
  let ddb: LocalDynamoDB;
  let raw: DynamoDBClient;
  let doc: DynamoDBDocumentClient;

  beforeAll(async () => {
    ddb = await startLocalDynamoDB();
    raw = new DynamoDBClient({
      endpoint: ddb.url,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 1,
    });
    await ensureStateTable(raw, TableName);
    doc = DynamoDBDocumentClient.from(raw);
  });
  afterAll(async () => {
    raw?.destroy();
    await ddb?.close();
  });

  const id = () => `item#${randomUUID()}`;
  const get = async (key: string) => (await doc.send(new GetCommand({ TableName, Key: { id: key } }))).Item;
  const cancelled = async (work: Promise<unknown>) => {
    const err = await work.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransactionCanceledException);
    return err as TransactionCanceledException;
  };

  it("applies every action of a transaction: put, update and delete on distinct items", async () => {
    const [a, b, c] = [id(), id(), id()];
    await doc.send(new PutCommand({ TableName, Item: { id: b, n: 1 } }));
    await doc.send(new PutCommand({ TableName, Item: { id: c, n: 1 } }));

    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName, Item: { id: a, n: 7 }, ConditionExpression: "attribute_not_exists(id)" } },
          {
            Update: {
              TableName,
              Key: { id: b },
              UpdateExpression: "SET n = n + :one",
              ConditionExpression: "n = :one",
              ExpressionAttributeValues: { ":one": 1 },
            },
          },
          { Delete: { TableName, Key: { id: c } } },
        ],
      }),
    );

    expect([await get(a), await get(b), await get(c)]).toEqual([{ id: a, n: 7 }, { id: b, n: 2 }, undefined]);
  });

  it("cancels the whole transaction when one condition fails: one reason per action, in order, the item only where ALL_OLD was asked", async () => {
    const [fresh, taken, other] = [id(), id(), id()];
    await doc.send(new PutCommand({ TableName, Item: { id: taken, owner: "someone" } }));
    await doc.send(new PutCommand({ TableName, Item: { id: other, n: 1 } }));

    const err = await cancelled(
      doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName, Item: { id: fresh, owner: "me" }, ConditionExpression: "attribute_not_exists(id)" } },
            {
              Put: {
                TableName,
                Item: { id: taken, owner: "me" },
                ConditionExpression: "attribute_not_exists(id)",
                ReturnValuesOnConditionCheckFailure: "ALL_OLD",
              },
            },
            {
              Update: {
                TableName,
                Key: { id: other },
                UpdateExpression: "SET n = :two",
                ExpressionAttributeValues: { ":two": 2 },
              },
            },
          ],
        }),
      ),
    );

    expect(err.CancellationReasons).toEqual([
      { Code: "None" },
      {
        Code: "ConditionalCheckFailed",
        Message: "The conditional request failed",
        Item: { id: { S: taken }, owner: { S: "someone" } },
      },
      { Code: "None" },
    ]);
    expect(err.message).toBe(
      "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None]",
    );
    // Nothing was written: the new item is absent, the others as they were.
    expect([await get(fresh), await get(taken), await get(other)]).toEqual([
      undefined,
      { id: taken, owner: "someone" },
      { id: other, n: 1 },
    ]);
  });

  it("reports every failed condition, and leaves a failed action's item out without ALL_OLD", async () => {
    const [a, b] = [id(), id()];
    await doc.send(new PutCommand({ TableName, Item: { id: a } }));
    await doc.send(new PutCommand({ TableName, Item: { id: b } }));

    const err = await cancelled(
      doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Delete: { TableName, Key: { id: a }, ConditionExpression: "attribute_not_exists(id)" } },
            {
              Update: {
                TableName,
                Key: { id: b },
                UpdateExpression: "SET x = :x",
                ConditionExpression: "attribute_not_exists(id)",
                ExpressionAttributeValues: { ":x": 1 },
                ReturnValuesOnConditionCheckFailure: "NONE",
              },
            },
          ],
        }),
      ),
    );

    expect(err.CancellationReasons?.map((r) => [r.Code, r.Item])).toEqual([
      ["ConditionalCheckFailed", undefined],
      ["ConditionalCheckFailed", undefined],
    ]);
    expect([await get(a), await get(b)]).toEqual([{ id: a }, { id: b }]);
  });

  it("checks a ConditionCheck's condition without writing the item, present or absent", async () => {
    const [present, absent, written] = [id(), id(), id()];
    await doc.send(new PutCommand({ TableName, Item: { id: present, v: 1 } }));

    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            ConditionCheck: {
              TableName,
              Key: { id: present },
              ConditionExpression: "v = :one",
              ExpressionAttributeValues: { ":one": 1 },
            },
          },
          { ConditionCheck: { TableName, Key: { id: absent }, ConditionExpression: "attribute_not_exists(id)" } },
          { Put: { TableName, Item: { id: written } } },
        ],
      }),
    );
    const refused = await cancelled(
      doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName,
                Key: { id: present },
                ConditionExpression: "v = :two",
                ExpressionAttributeValues: { ":two": 2 },
              },
            },
            { Put: { TableName, Item: { id: id() } } },
          ],
        }),
      ),
    );

    expect([await get(present), await get(absent), await get(written)]).toEqual([
      { id: present, v: 1 },
      undefined,
      { id: written },
    ]);
    expect(refused.CancellationReasons?.map((r) => r.Code)).toEqual(["ConditionalCheckFailed", "None"]);
  });

  it("refuses two actions on one item (ValidationException), writing nothing", async () => {
    const a = id();

    const err = await doc
      .send(
        new TransactWriteCommand({
          TransactItems: [{ Put: { TableName, Item: { id: a } } }, { Delete: { TableName, Key: { id: a } } }],
        }),
      )
      .catch((e: Error) => e);

    expect(err).toMatchObject({
      name: "ValidationException",
      message: "Transaction request cannot include multiple operations on one item",
    });
    expect(await get(a)).toBeUndefined();
  });

  it("makes a repeated request with the same ClientRequestToken a no-op, and refuses the token with other actions", async () => {
    const counter = id();
    const add = (n: number, token: string) =>
      doc.send(
        new TransactWriteCommand({
          ClientRequestToken: token,
          TransactItems: [
            {
              Update: {
                TableName,
                Key: { id: counter },
                UpdateExpression: "ADD n :n",
                ExpressionAttributeValues: { ":n": n },
              },
            },
          ],
        }),
      );
    const token = randomUUID();

    await add(1, token);
    await add(1, token);
    const mismatch = await add(5, token).catch((e: unknown) => e);
    await add(1, randomUUID());

    expect(mismatch).toBeInstanceOf(IdempotentParameterMismatchException);
    expect(await get(counter)).toEqual({ id: counter, n: 2 });
  });

  it("lets exactly one of many concurrent transactions take an item, each all or nothing", async () => {
    const lock = id();
    const claims = Array.from({ length: 12 }, () => id());

    const outcomes = await Promise.all(
      claims.map((claim) =>
        doc
          .send(
            new TransactWriteCommand({
              TransactItems: [
                { Put: { TableName, Item: { id: claim }, ConditionExpression: "attribute_not_exists(id)" } },
                { Put: { TableName, Item: { id: lock, by: claim }, ConditionExpression: "attribute_not_exists(id)" } },
              ],
            }),
          )
          .then(
            () => "won",
            (e: Error) => e.name,
          ),
      ),
    );
    const holder = (await get(lock))?.by;
    const written = await Promise.all(claims.map(async (c) => (await get(c)) !== undefined));

    expect(outcomes.filter((o) => o === "won")).toHaveLength(1);
    expect(outcomes.filter((o) => o !== "won")).toEqual(Array(11).fill("TransactionCanceledException"));
    expect(claims.filter((_, i) => written[i])).toEqual([holder]);
  });

  it.each([
    [
      "PutItem",
      (key: string) =>
        new PutCommand({
          TableName,
          Item: { id: key, v: 2 },
          ConditionExpression: "attribute_not_exists(id)",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
    ],
    [
      "UpdateItem",
      (key: string) =>
        new UpdateCommand({
          TableName,
          Key: { id: key },
          UpdateExpression: "SET v = :v",
          ConditionExpression: "v = :v",
          ExpressionAttributeValues: { ":v": 2 },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
    ],
    [
      "DeleteItem",
      (key: string) =>
        new DeleteCommand({
          TableName,
          Key: { id: key },
          ConditionExpression: "v = :v",
          ExpressionAttributeValues: { ":v": 2 },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
    ],
  ] as const)(
    "returns the item a failed condition saw on %s when ReturnValuesOnConditionCheckFailure is ALL_OLD",
    async (_, command) => {
      const key = id();
      await doc.send(new PutCommand({ TableName, Item: { id: key, v: 1 } }));

      const err = await doc.send(command(key) as PutCommand).catch((e: unknown) => e);
      const without = await doc
        .send(new PutCommand({ TableName, Item: { id: key }, ConditionExpression: "attribute_not_exists(id)" }))
        .catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ConditionalCheckFailedException);
      expect((err as ConditionalCheckFailedException).Item).toEqual({ id: { S: key }, v: { N: "1" } });
      expect((without as ConditionalCheckFailedException).Item).toBeUndefined();
      expect(await get(key)).toEqual({ id: key, v: 1 });
    },
  );

  it("counts requests by operation", async () => {
    const [a, b] = [id(), id()];
    ddb.resetCalls();

    await doc.send(new PutCommand({ TableName, Item: { id: a } }));
    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName,
              Key: { id: a },
              UpdateExpression: "SET v = :v",
              ExpressionAttributeValues: { ":v": 1 },
            },
          },
          { Put: { TableName, Item: { id: b } } },
        ],
      }),
    );
    await get(b);

    expect(ddb.calls).toEqual({ PutItem: 1, TransactWriteItems: 1, GetItem: 1 });
  });
});
