import { describe, expect, it, onTestFinished } from "vitest";
import type { BehaviourOptions, Emulator } from "./index.js";
import { defaultBehaviour } from "./index.js";
import { as, order, product, startAppEmulator } from "./test-helpers.js";

/** An in-memory emulator with `behaviour`, closed when the test ends. */
async function emulator(behaviour: Partial<BehaviourOptions> = {}): Promise<Emulator> {
  const flxbl = await startAppEmulator({ behaviour });
  onTestFinished(() => flxbl.close());
  return flxbl;
}

const admin = (flxbl: Emulator) => as(flxbl, flxbl.adminKey);

/** An order containing one product (quantity 2); answers the created records. */
async function orderWithLine(flxbl: Emulator) {
  const o = await admin(flxbl).post("/dynamic/Order", order());
  const p = await admin(flxbl).post("/dynamic/Product", product());
  await admin(flxbl).post(`/dynamic/Order/${o.body.id}/relationships/CONTAINS`, {
    targetId: p.body.id,
    properties: { quantity: 2 },
  });
  return { order: o.body, product: p.body };
}

async function createProducts(flxbl: Emulator, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await admin(flxbl).post("/dynamic/Product", product({ sku: `SKU-${i}` }));
}

async function query(flxbl: Emulator, entity: string, where: unknown) {
  return admin(flxbl).post(`/dynamic/${entity}/query`, { where });
}

describe("defaultBehaviour", () => {
  it("holds the variants seen in FLXBL's example code and generated spec", () => {
    expect(defaultBehaviour).toEqual({
      listShape: "envelope",
      edgeListShape: "relationship-target",
      createStatus: 201,
      deleteStatus: 204,
      validationStatus: 422,
      errorMessageShape: "string",
      defaultLimit: 100,
      maxLimit: 1000,
      caseInsensitiveEquality: false,
      extendedOperators: false,
      uniqueFields: {},
      retryAfterHeader: true,
      rateLimitHeaders: false,
      apiKeyListShape: "array",
    });
  });

  it("is the behaviour an emulator started without options reports", async () => {
    const flxbl = await emulator();

    const res = await fetch(`${flxbl.origin}/_emulator/config`, {
      headers: { authorization: `Bearer ${flxbl.adminKey}` },
    });

    const body = (await res.json()) as { behaviour: unknown };
    expect(body.behaviour).toEqual(defaultBehaviour);
  });
});

describe("listShape", () => {
  it("answers a list as {data, pagination:{limit, offset, total}} by default", async () => {
    const flxbl = await emulator();
    const created = await admin(flxbl).post("/dynamic/Product", product());

    const res = await admin(flxbl).get("/dynamic/Product");

    expect(res.body).toEqual({
      data: [created.body],
      pagination: { limit: defaultBehaviour.defaultLimit, offset: 0, total: 1 },
    });
  });

  it("answers a list as a bare array with listShape: array", async () => {
    const flxbl = await emulator({ listShape: "array" });
    const created = await admin(flxbl).post("/dynamic/Product", product());

    const res = await admin(flxbl).get("/dynamic/Product");

    expect(res.body).toEqual([created.body]);
  });

  it("switches while running through PATCH /_emulator/config", async () => {
    const flxbl = await emulator();
    const created = await admin(flxbl).post("/dynamic/Product", product());

    await fetch(`${flxbl.origin}/_emulator/config`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${flxbl.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ behaviour: { listShape: "array" } }),
    });

    expect((await admin(flxbl).get("/dynamic/Product")).body).toEqual([created.body]);
  });
});

describe("edgeListShape", () => {
  it("answers edges as [{relationship:{type, direction, properties}, target}] by default", async () => {
    const flxbl = await emulator();
    const { order: o, product: p } = await orderWithLine(flxbl);

    const res = await admin(flxbl).get(`/dynamic/Order/${o.id}/relationships/CONTAINS`);

    expect(res.body).toEqual([
      { relationship: { type: "CONTAINS", direction: "out", properties: { quantity: 2 } }, target: p },
    ]);
  });

  it("answers edges as {items:[{...record, _relationship}], count} with edgeListShape: items-count", async () => {
    const flxbl = await emulator({ edgeListShape: "items-count" });
    const { order: o, product: p } = await orderWithLine(flxbl);

    const res = await admin(flxbl).get(`/dynamic/Order/${o.id}/relationships/CONTAINS`);

    expect(res.body).toEqual({
      items: [{ ...p, _relationship: { type: "CONTAINS", direction: "out", properties: { quantity: 2 } } }],
      count: 1,
    });
  });

  it("counts every edge, not only the page, in items-count", async () => {
    const flxbl = await emulator({ edgeListShape: "items-count" });
    const { order: o } = await orderWithLine(flxbl);
    const extra = await admin(flxbl).post("/dynamic/Product", product({ sku: "SKU-2" }));
    await admin(flxbl).post(`/dynamic/Order/${o.id}/relationships/CONTAINS`, {
      targetId: extra.body.id,
      properties: { quantity: 1 },
    });

    const res = await admin(flxbl).get(`/dynamic/Order/${o.id}/relationships/CONTAINS?limit=1`);

    expect(res.body.items).toHaveLength(1);
    expect(res.body.count).toBe(2);
  });
});

describe("createStatus", () => {
  it("answers a created record and edge with 201 by default", async () => {
    const flxbl = await emulator();
    const o = await admin(flxbl).post("/dynamic/Order", order());
    const p = await admin(flxbl).post("/dynamic/Product", product());

    const edge = await admin(flxbl).post(`/dynamic/Order/${o.body.id}/relationships/CONTAINS`, {
      targetId: p.body.id,
      properties: { quantity: 1 },
    });

    expect([o.status, p.status, edge.status]).toEqual([201, 201, 201]);
  });

  it("answers a created record and edge with 200 and the same body with createStatus: 200", async () => {
    const flxbl = await emulator({ createStatus: 200 });
    const o = await admin(flxbl).post("/dynamic/Order", order());
    const p = await admin(flxbl).post("/dynamic/Product", product());

    const edge = await admin(flxbl).post(`/dynamic/Order/${o.body.id}/relationships/CONTAINS`, {
      targetId: p.body.id,
      properties: { quantity: 1 },
    });

    expect([o.status, p.status, edge.status]).toEqual([200, 200, 200]);
    expect(o.body).toMatchObject({ id: expect.stringMatching(/^node_/), ...order() });
    expect(edge.body).toMatchObject({ type: "CONTAINS", sourceId: o.body.id, targetId: p.body.id });
  });
});

describe("deleteStatus", () => {
  it("answers a deleted record and edge with 204 and no body by default", async () => {
    const flxbl = await emulator();
    const { order: o, product: p } = await orderWithLine(flxbl);

    const edge = await admin(flxbl).delete(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`);
    const record = await admin(flxbl).delete(`/dynamic/Order/${o.id}`);

    expect([edge.status, edge.body, record.status, record.body]).toEqual([204, undefined, 204, undefined]);
  });

  it("answers a deleted record and edge with 200 and {id, deleted: true} with deleteStatus: 200", async () => {
    const flxbl = await emulator({ deleteStatus: 200 });
    const { order: o, product: p } = await orderWithLine(flxbl);

    const edge = await admin(flxbl).delete(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`);
    const record = await admin(flxbl).delete(`/dynamic/Order/${o.id}`);

    expect(edge.status).toBe(200);
    expect(edge.body).toEqual({ id: p.id, deleted: true });
    expect(record.status).toBe(200);
    expect(record.body).toEqual({ id: o.id, deleted: true });
    expect((await admin(flxbl).get(`/dynamic/Order/${o.id}`)).status).toBe(404);
  });
});

describe("validationStatus", () => {
  it("answers an invalid write with 422 and per-field errors by default", async () => {
    const flxbl = await emulator();

    const res = await admin(flxbl).post("/dynamic/Order", order({ status: "lost" }));

    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ statusCode: 422, error: "Unprocessable Entity" });
    expect(res.body.errors).toEqual([expect.objectContaining({ field: "status", actualValue: "lost" })]);
  });

  it("answers an invalid write with 400 and the same per-field errors with validationStatus: 400", async () => {
    const flxbl = await emulator({ validationStatus: 400 });

    const res = await admin(flxbl).patch(
      `/dynamic/Order/${(await admin(flxbl).post("/dynamic/Order", order())).body.id}`,
      { total: "ten" },
    );

    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: "Bad Request" });
    expect(res.body.errors).toEqual([expect.objectContaining({ field: "total", expectedType: "NUMBER" })]);
  });
});

describe("errorMessageShape", () => {
  it("sends message as a string by default", async () => {
    const flxbl = await emulator();

    const res = await admin(flxbl).get("/dynamic/Order/node_missing");

    expect(res.body).toEqual({ statusCode: 404, message: "Entity not found", error: "Not Found" });
  });

  it.each([
    { case: "a 404", send: (f: Emulator) => admin(f).get("/dynamic/Order/node_missing"), status: 404 },
    { case: "a 401", send: (f: Emulator) => as(f, undefined).get("/dynamic/Order"), status: 401 },
    { case: "a validation error", send: (f: Emulator) => admin(f).post("/dynamic/Order", {}), status: 422 },
  ])("sends message as a string array on $case with errorMessageShape: array", async ({ send, status }) => {
    const flxbl = await emulator({ errorMessageShape: "array" });

    const res = await send(flxbl);

    expect(res.status).toBe(status);
    expect(res.body.message).toEqual([expect.any(String)]);
  });
});

describe("defaultLimit and maxLimit", () => {
  it("pages by defaultLimit and clamps to maxLimit by default", async () => {
    const flxbl = await emulator();

    const plain = await admin(flxbl).get("/dynamic/Product");
    const huge = await admin(flxbl).get("/dynamic/Product?limit=5000");

    expect(plain.body.pagination.limit).toBe(100);
    expect(huge.body.pagination.limit).toBe(1000);
  });

  it("answers defaultLimit records to a list without a limit", async () => {
    const flxbl = await emulator({ defaultLimit: 2, maxLimit: 3 });
    await createProducts(flxbl, 4);

    const res = await admin(flxbl).get("/dynamic/Product");

    expect(res.body.data).toHaveLength(2);
    expect(res.body.pagination).toEqual({ limit: 2, offset: 0, total: 4 });
  });

  it("answers defaultLimit records to a query without a limit", async () => {
    const flxbl = await emulator({ defaultLimit: 2, maxLimit: 3 });
    await createProducts(flxbl, 4);

    const res = await admin(flxbl).post("/dynamic/Product/query", {});

    expect(res.body).toHaveLength(2);
  });

  it("clamps a larger list limit to maxLimit", async () => {
    const flxbl = await emulator({ defaultLimit: 2, maxLimit: 3 });
    await createProducts(flxbl, 4);

    const res = await admin(flxbl).get("/dynamic/Product?limit=10");

    expect(res.body.data).toHaveLength(3);
    expect(res.body.pagination.limit).toBe(3);
  });

  it("clamps a larger query limit to maxLimit", async () => {
    const flxbl = await emulator({ defaultLimit: 2, maxLimit: 3 });
    await createProducts(flxbl, 4);

    const res = await admin(flxbl).post("/dynamic/Product/query", { limit: 10, includeCount: true });

    expect(res.body.data).toHaveLength(3);
    expect(res.body.totalCount).toBe(4);
  });
});

describe("caseInsensitiveEquality", () => {
  it.each([
    { op: "$eq", where: { currency: { $eq: "EUR" } } },
    { op: "bare equality", where: { currency: "EUR" } },
    { op: "$in", where: { currency: { $in: ["EUR"] } } },
  ])("compares $op exactly by default", async ({ where }) => {
    const flxbl = await emulator();
    await admin(flxbl).post("/dynamic/Order", order({ currency: "eur" }));

    const res = await query(flxbl, "Order", where);

    expect(res.body).toEqual([]);
  });

  it("matches the exact value with $eq by default", async () => {
    const flxbl = await emulator();
    const created = await admin(flxbl).post("/dynamic/Order", order({ currency: "eur" }));

    const res = await query(flxbl, "Order", { currency: { $eq: "eur" } });

    expect(res.body).toEqual([created.body]);
  });

  it.each([
    { op: "$eq", where: { currency: { $eq: "EUR" } } },
    { op: "bare equality", where: { currency: "EUR" } },
    { op: "$in", where: { currency: { $in: ["EUR"] } } },
  ])("matches $op in any case with caseInsensitiveEquality: true", async ({ where }) => {
    const flxbl = await emulator({ caseInsensitiveEquality: true });
    const eur = await admin(flxbl).post("/dynamic/Order", order({ currency: "eur" }));
    await admin(flxbl).post("/dynamic/Order", order({ number: "ORD-2", currency: "usd" }));

    const res = await query(flxbl, "Order", where);

    expect(res.body).toEqual([eur.body]);
  });

  it("excludes values equal in another case from $neq with caseInsensitiveEquality: true", async () => {
    const flxbl = await emulator({ caseInsensitiveEquality: true });
    await admin(flxbl).post("/dynamic/Order", order({ currency: "eur" }));
    const usd = await admin(flxbl).post("/dynamic/Order", order({ number: "ORD-2", currency: "usd" }));

    const res = await query(flxbl, "Order", { currency: { $neq: "EUR" } });

    expect(res.body).toEqual([usd.body]);
  });
});

const extendedWheres = [
  { op: "$startsWith", where: { number: { $startsWith: "ORD-" } } },
  { op: "$endsWith", where: { number: { $endsWith: "-3" } } },
  { op: "$not", where: { $not: { status: "paid" } } },
];

describe("extendedOperators", () => {
  it.each(extendedWheres)("answers 400 naming $op by default", async ({ op, where }) => {
    const flxbl = await emulator();

    const res = await query(flxbl, "Order", where);

    expect(res.status).toBe(400);
    expect(res.body.message).toContain(op);
  });

  it.each([
    { op: "$startsWith", where: { number: { $startsWith: "ord-" } }, expected: ["ORD-1", "ORD-2"] },
    { op: "$endsWith", where: { number: { $endsWith: "-3" } }, expected: ["X-3"] },
    { op: "$not", where: { $not: { status: "paid" } }, expected: ["ORD-1", "X-3"] },
  ])("filters with $op with extendedOperators: true", async ({ where, expected }) => {
    const flxbl = await emulator({ extendedOperators: true });
    await admin(flxbl).post("/dynamic/Order", order({ number: "ORD-1" }));
    await admin(flxbl).post("/dynamic/Order", order({ number: "ORD-2", status: "paid" }));
    await admin(flxbl).post("/dynamic/Order", order({ number: "X-3" }));

    const res = await admin(flxbl).post("/dynamic/Order/query", { where, orderBy: "number" });

    expect(res.status).toBe(200);
    expect(res.body.map((o: { number: string }) => o.number)).toEqual(expected);
  });
});

describe("uniqueFields", () => {
  it("allows duplicate values by default", async () => {
    const flxbl = await emulator();
    await admin(flxbl).post("/dynamic/Order", order({ number: "ORD-1" }));

    const res = await admin(flxbl).post("/dynamic/Order", order({ number: "ORD-1" }));

    expect(res.status).toBe(201);
  });

  it("answers 409 to a create that would duplicate a unique field, and stores nothing", async () => {
    const flxbl = await emulator({ uniqueFields: { Order: ["number"] } });
    await admin(flxbl).post("/dynamic/Order", order({ number: "ORD-1" }));

    const res = await admin(flxbl).post("/dynamic/Order", order({ number: "ORD-1", total: 5 }));

    expect(res.status).toBe(409);
    expect(res.body).toEqual({ statusCode: 409, message: expect.stringContaining("number"), error: "Conflict" });
    expect((await admin(flxbl).get("/dynamic/Order")).body.pagination.total).toBe(1);
  });

  it.each(["PATCH", "PUT"])(
    "answers 409 to a %s that would duplicate a unique field, and keeps the record",
    async (method) => {
      const flxbl = await emulator({ uniqueFields: { Order: ["number"] } });
      await admin(flxbl).post("/dynamic/Order", order({ number: "ORD-1" }));
      const other = await admin(flxbl).post("/dynamic/Order", order({ number: "ORD-2" }));

      const res = await admin(flxbl).call(
        method,
        `/dynamic/Order/${other.body.id}`,
        method === "PUT" ? order({ number: "ORD-1" }) : { number: "ORD-1" },
      );

      expect(res.status).toBe(409);
      expect((await admin(flxbl).get(`/dynamic/Order/${other.body.id}`)).body).toEqual(other.body);
    },
  );

  it("lets a record keep its own unique value on PATCH", async () => {
    const flxbl = await emulator({ uniqueFields: { Order: ["number"] } });
    const created = await admin(flxbl).post("/dynamic/Order", order({ number: "ORD-1" }));

    const res = await admin(flxbl).patch(`/dynamic/Order/${created.body.id}`, { number: "ORD-1", status: "paid" });

    expect(res.status).toBe(200);
  });

  it("leaves entities not named in uniqueFields alone", async () => {
    const flxbl = await emulator({ uniqueFields: { Order: ["number"] } });
    await admin(flxbl).post("/dynamic/Product", product({ sku: "SAME" }));

    const res = await admin(flxbl).post("/dynamic/Product", product({ sku: "SAME" }));

    expect(res.status).toBe(201);
  });
});

describe("apiKeyListShape", () => {
  const makeKeys = async (flxbl: Emulator, n: number) => {
    for (let i = 0; i < n; i++) await admin(flxbl).post("/api-keys", { name: `k${i}`, scopes: ["entity:Order:read"] });
  };

  it("answers every key as a bare array by default, and a slice with limit and offset", async () => {
    const flxbl = await emulator();
    await makeKeys(flxbl, 5);

    const all = await admin(flxbl).get("/api-keys");
    const slice = await admin(flxbl).get("/api-keys?limit=2&offset=1");

    expect(all.body.map((k: { name: string }) => k.name)).toEqual(["k0", "k1", "k2", "k3", "k4"]);
    expect(slice.body.map((k: { name: string }) => k.name)).toEqual(["k1", "k2"]);
  });

  it("answers one page in an envelope with the total when set to envelope", async () => {
    const flxbl = await emulator({ apiKeyListShape: "envelope", defaultLimit: 2 });
    await makeKeys(flxbl, 3);

    const first = await admin(flxbl).get("/api-keys");
    const last = await admin(flxbl).get("/api-keys?offset=2");

    expect(first.body.data.map((k: { name: string }) => k.name)).toEqual(["k0", "k1"]);
    expect(first.body.pagination).toEqual({ limit: 2, offset: 0, total: 3 });
    expect(last.body.data.map((k: { name: string }) => k.name)).toEqual(["k2"]);
  });

  it("answers 400 to a limit that is not a positive integer", async () => {
    const flxbl = await emulator();

    const res = await admin(flxbl).get("/api-keys?limit=0");

    expect(res.status).toBe(400);
  });
});
