import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "./index.js";
import { as, order, product, startAppEmulator } from "./test-helpers.js";

interface Rec {
  id: string;
  [field: string]: unknown;
}

interface EdgeListItem {
  relationship: { type: string; direction: string; properties: Record<string, unknown> };
  target: Rec;
}

const alert = (productId: string, overrides: Record<string, unknown> = {}) => ({
  productId,
  sku: "SKU-1",
  stock: 1,
  threshold: 3,
  status: "open",
  ...overrides,
});

describe("relationships", () => {
  let flxbl: Emulator;
  let api: ReturnType<typeof as>;
  beforeAll(async () => {
    flxbl = await startAppEmulator();
    api = as(flxbl, flxbl.adminKey);
  });
  afterAll(() => flxbl.close());

  const newOrder = async () => (await api.post<Rec>("/dynamic/Order", order())).body;
  const newProduct = async (overrides: Record<string, unknown> = {}) =>
    (await api.post<Rec>("/dynamic/Product", product(overrides))).body;
  const newAlert = async (productId: string) => (await api.post<Rec>("/dynamic/StockAlert", alert(productId))).body;
  const contains = (orderId: string, body: unknown) =>
    api.post(`/dynamic/Order/${orderId}/relationships/CONTAINS`, body);
  const alertsOn = (alertId: string, productId: string) =>
    api.post(`/dynamic/StockAlert/${alertId}/relationships/ALERTS_ON`, { targetId: productId });
  const orderLines = async (orderId: string, query = "") =>
    (await api.get<EdgeListItem[]>(`/dynamic/Order/${orderId}/relationships/CONTAINS${query}`)).body;

  describe("creating an edge", () => {
    it("answers 201 with the edge, its properties and timestamps", async () => {
      const o = await newOrder();
      const p = await newProduct();

      const res = await contains(o.id, { targetId: p.id, properties: { quantity: 2, unitPrice: 9.5 } });

      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        type: "CONTAINS",
        sourceId: o.id,
        targetId: p.id,
        properties: { quantity: 2, unitPrice: 9.5 },
        createdAt: expect.any(String),
        updatedAt: res.body.createdAt,
      });
    });

    it("accepts an edge that leaves out an optional property", async () => {
      const o = await newOrder();
      const p = await newProduct();

      const res = await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });

      expect(res.status).toBe(201);
      expect(res.body.properties).toEqual({ quantity: 1 });
    });

    it("accepts an edge without properties for a relationship with no fields", async () => {
      const p = await newProduct();
      const a = await newAlert(p.id);

      const res = await alertsOn(a.id, p.id);

      expect(res.status).toBe(201);
      expect(res.body.properties).toEqual({});
    });

    it("refuses an edge missing a required property with 422 and stores nothing", async () => {
      const o = await newOrder();
      const p = await newProduct();

      const res = await contains(o.id, { targetId: p.id, properties: { unitPrice: 9.5 } });

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "quantity", expectedType: "NUMBER" })]);
      expect(await orderLines(o.id)).toEqual([]);
    });

    it("refuses an edge whose property has the wrong type with 422", async () => {
      const o = await newOrder();
      const p = await newProduct();

      const res = await contains(o.id, { targetId: p.id, properties: { quantity: 1.5 } });

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "quantity", expectedType: "NUMBER" })]);
    });

    it("refuses an edge with a property the relationship does not declare with 422", async () => {
      const o = await newOrder();
      const p = await newProduct();

      const res = await contains(o.id, { targetId: p.id, properties: { quantity: 1, colour: "red" } });

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "colour" })]);
    });

    it("answers 404 for a target that does not exist", async () => {
      const o = await newOrder();

      const res = await contains(o.id, {
        targetId: "node_00000000-0000-4000-8000-000000000000",
        properties: { quantity: 1 },
      });

      expect(res.status).toBe(404);
      expect(res.body.statusCode).toBe(404);
    });

    it("answers 404 for a source record that does not exist", async () => {
      const p = await newProduct();

      const res = await contains("node_00000000-0000-4000-8000-000000000000", {
        targetId: p.id,
        properties: { quantity: 1 },
      });

      expect(res.status).toBe(404);
    });

    it("answers 400 for a target of the wrong entity", async () => {
      const o = await newOrder();
      const other = await newOrder();

      const res = await contains(o.id, { targetId: other.id, properties: { quantity: 1 } });

      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: "Bad Request" });
    });

    it("answers 400 for an edge created from the target side", async () => {
      const o = await newOrder();
      const p = await newProduct();

      const res = await api.post(`/dynamic/Product/${p.id}/relationships/CONTAINS`, {
        targetId: o.id,
        properties: { quantity: 1 },
      });

      expect(res.status).toBe(400);
      expect(await orderLines(o.id)).toEqual([]);
    });

    it("answers 400 for a body without targetId", async () => {
      const o = await newOrder();

      const res = await contains(o.id, { properties: { quantity: 1 } });

      expect(res.status).toBe(400);
    });

    it("answers 400 for a body with keys other than targetId and properties", async () => {
      const o = await newOrder();
      const p = await newProduct();

      const res = await contains(o.id, { targetId: p.id, properties: { quantity: 1 }, quantity: 1 });

      expect(res.status).toBe(400);
    });

    it("answers 404 for a relationship the schema does not declare", async () => {
      const o = await newOrder();
      const p = await newProduct();

      const res = await api.post(`/dynamic/Order/${o.id}/relationships/INCLUDES`, { targetId: p.id });

      expect(res.status).toBe(404);
    });

    it("answers 404 for a relationship name in the wrong case", async () => {
      const o = await newOrder();
      const p = await newProduct();

      const res = await api.post(`/dynamic/Order/${o.id}/relationships/contains`, {
        targetId: p.id,
        properties: { quantity: 1 },
      });

      expect(res.status).toBe(404);
    });

    it("answers 409 for a second edge between the same records and keeps the first", async () => {
      const o = await newOrder();
      const p = await newProduct();
      await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });

      const res = await contains(o.id, { targetId: p.id, properties: { quantity: 7 } });

      expect(res.status).toBe(409);
      expect(res.body.statusCode).toBe(409);
      const lines = await orderLines(o.id);
      expect(lines.map((l) => l.relationship.properties)).toEqual([{ quantity: 1 }]);
    });

    it("answers 409 for a second MANY_TO_ONE edge from the same source", async () => {
      const p1 = await newProduct();
      const p2 = await newProduct();
      const a = await newAlert(p1.id);
      await alertsOn(a.id, p1.id);

      const res = await alertsOn(a.id, p2.id);

      expect(res.status).toBe(409);
    });

    it("accepts MANY_TO_ONE edges from several sources to one target", async () => {
      const p = await newProduct();
      const a1 = await newAlert(p.id);
      const a2 = await newAlert(p.id);
      await alertsOn(a1.id, p.id);

      const res = await alertsOn(a2.id, p.id);

      expect(res.status).toBe(201);
    });

    it("accepts a new MANY_TO_ONE edge once the source's old one is deleted", async () => {
      const p1 = await newProduct();
      const p2 = await newProduct();
      const a = await newAlert(p1.id);
      await alertsOn(a.id, p1.id);
      await api.delete(`/dynamic/StockAlert/${a.id}/relationships/ALERTS_ON/${p1.id}`);

      const res = await alertsOn(a.id, p2.id);

      expect(res.status).toBe(201);
    });
  });

  describe("listing edges", () => {
    it("lists outgoing edges by default as [{relationship, target}]", async () => {
      const o = await newOrder();
      const p = await newProduct({ sku: "LISTED" });
      await contains(o.id, { targetId: p.id, properties: { quantity: 3, unitPrice: 2.5 } });

      const res = await api.get(`/dynamic/Order/${o.id}/relationships/CONTAINS`);

      expect(res.status).toBe(200);
      expect(res.body).toEqual([
        {
          relationship: { type: "CONTAINS", direction: "out", properties: { quantity: 3, unitPrice: 2.5 } },
          target: p,
        },
      ]);
    });

    it("lists the same outgoing edges with direction=out", async () => {
      const o = await newOrder();
      const p = await newProduct();
      await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });

      const res = await api.get<EdgeListItem[]>(`/dynamic/Order/${o.id}/relationships/CONTAINS?direction=out`);

      expect(res.body.map((l) => [l.relationship.direction, l.target.id])).toEqual([["out", p.id]]);
    });

    it("lists incoming edges with direction=in, with the source record as target", async () => {
      const p = await newProduct();
      const o1 = await newOrder();
      const o2 = await newOrder();
      await contains(o1.id, { targetId: p.id, properties: { quantity: 1 } });
      await contains(o2.id, { targetId: p.id, properties: { quantity: 2 } });

      const res = await api.get<EdgeListItem[]>(`/dynamic/Product/${p.id}/relationships/CONTAINS?direction=in`);

      expect(res.status).toBe(200);
      const seen = res.body.map((l) => ({
        dir: l.relationship.direction,
        id: l.target.id,
        q: l.relationship.properties,
      }));
      expect(seen).toEqual(
        expect.arrayContaining([
          { dir: "in", id: o1.id, q: { quantity: 1 } },
          { dir: "in", id: o2.id, q: { quantity: 2 } },
        ]),
      );
      expect(seen).toHaveLength(2);
      expect(res.body.find((l) => l.target.id === o1.id)?.target).toEqual(o1);
    });

    it("lists only the record's own edges", async () => {
      const o1 = await newOrder();
      const o2 = await newOrder();
      const p1 = await newProduct();
      const p2 = await newProduct();
      await contains(o1.id, { targetId: p1.id, properties: { quantity: 1 } });
      await contains(o2.id, { targetId: p2.id, properties: { quantity: 1 } });

      const lines = await orderLines(o1.id);

      expect(lines.map((l) => l.target.id)).toEqual([p1.id]);
    });

    it("answers an empty array for a record without edges", async () => {
      const o = await newOrder();

      const res = await api.get(`/dynamic/Order/${o.id}/relationships/CONTAINS`);

      expect(res.status).toBe(200);
      expect(res.body).toEqual([]);
    });

    it("pages edges with limit and offset", async () => {
      const o = await newOrder();
      const products: Rec[] = [];
      for (let i = 0; i < 5; i++) {
        const p = await newProduct({ sku: `PAGE-${i}` });
        products.push(p);
        await contains(o.id, { targetId: p.id, properties: { quantity: i + 1 } });
      }
      const full = (await orderLines(o.id)).map((l) => l.target.id);

      const page = (await orderLines(o.id, "?limit=2&offset=2")).map((l) => l.target.id);

      expect([...full].sort()).toEqual(products.map((p) => p.id).sort());
      expect(page).toEqual(full.slice(2, 4));
    });

    it("pages through every edge once with limit and offset", async () => {
      const o = await newOrder();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const p = await newProduct({ sku: `WALK-${i}` });
        ids.push(p.id);
        await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });
      }

      const seen: string[] = [];
      for (let offset = 0; offset < 5; offset += 2) {
        seen.push(...(await orderLines(o.id, `?limit=2&offset=${offset}`)).map((l) => l.target.id));
      }

      expect(seen).toHaveLength(5);
      expect([...seen].sort()).toEqual([...ids].sort());
    });

    it("answers 400 for a direction other than out, in or both", async () => {
      const o = await newOrder();

      const res = await api.get(`/dynamic/Order/${o.id}/relationships/CONTAINS?direction=sideways`);

      expect(res.status).toBe(400);
    });

    it("answers 400 for a limit of zero", async () => {
      const o = await newOrder();

      const res = await api.get(`/dynamic/Order/${o.id}/relationships/CONTAINS?limit=0`);

      expect(res.status).toBe(400);
    });

    it("answers 404 when listing the edges of a record that does not exist", async () => {
      const res = await api.get("/dynamic/Order/node_00000000-0000-4000-8000-000000000000/relationships/CONTAINS");

      expect(res.status).toBe(404);
    });
  });

  describe("updating edge properties", () => {
    it("merges the sent properties into the edge's", async () => {
      const o = await newOrder();
      const p = await newProduct();
      await contains(o.id, { targetId: p.id, properties: { quantity: 1, unitPrice: 4.5 } });

      const res = await api.patch(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`, {
        properties: { quantity: 5 },
      });
      const lines = await orderLines(o.id);

      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ type: "CONTAINS", sourceId: o.id, targetId: p.id });
      expect(res.body.properties).toEqual({ quantity: 5, unitPrice: 4.5 });
      expect(lines.map((l) => l.relationship.properties)).toEqual([{ quantity: 5, unitPrice: 4.5 }]);
    });

    it("keeps createdAt and moves updatedAt forward", async () => {
      const o = await newOrder();
      const p = await newProduct();
      const created = await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });
      await sleep(5);

      const res = await api.patch(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`, {
        properties: { quantity: 2 },
      });

      expect(res.body.createdAt).toBe(created.body.createdAt);
      expect(Date.parse(res.body.updatedAt)).toBeGreaterThan(Date.parse(created.body.updatedAt));
    });

    it("clears an optional property sent as null", async () => {
      const o = await newOrder();
      const p = await newProduct();
      await contains(o.id, { targetId: p.id, properties: { quantity: 1, unitPrice: 4.5 } });

      await api.patch(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`, { properties: { unitPrice: null } });
      const lines = await orderLines(o.id);

      expect(lines[0]?.relationship.properties.unitPrice ?? null).toBeNull();
      expect(lines[0]?.relationship.properties.quantity).toBe(1);
    });

    it("refuses a property of the wrong type with 422 and keeps the edge", async () => {
      const o = await newOrder();
      const p = await newProduct();
      await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });

      const res = await api.patch(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`, {
        properties: { quantity: "many" },
      });
      const lines = await orderLines(o.id);

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "quantity", expectedType: "NUMBER" })]);
      expect(lines[0]?.relationship.properties).toEqual({ quantity: 1 });
    });

    it("refuses null for a required property with 422", async () => {
      const o = await newOrder();
      const p = await newProduct();
      await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });

      const res = await api.patch(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`, {
        properties: { quantity: null },
      });

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "quantity" })]);
    });

    it("answers 404 for an edge that does not exist", async () => {
      const o = await newOrder();
      const p = await newProduct();

      const res = await api.patch(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`, {
        properties: { quantity: 2 },
      });

      expect(res.status).toBe(404);
    });
  });

  describe("deleting edges", () => {
    it("answers 204 with an empty body and removes the edge", async () => {
      const o = await newOrder();
      const p = await newProduct();
      await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });

      const res = await api.delete(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`);

      expect(res.status).toBe(204);
      expect(res.body).toBeUndefined();
      expect(await orderLines(o.id)).toEqual([]);
    });

    it("answers 404 when the edge is deleted a second time", async () => {
      const o = await newOrder();
      const p = await newProduct();
      await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });
      await api.delete(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`);

      const res = await api.delete(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`);

      expect(res.status).toBe(404);
    });

    it("leaves the record's other edges and both records in place", async () => {
      const o = await newOrder();
      const p1 = await newProduct();
      const p2 = await newProduct();
      await contains(o.id, { targetId: p1.id, properties: { quantity: 1 } });
      await contains(o.id, { targetId: p2.id, properties: { quantity: 2 } });

      await api.delete(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p1.id}`);
      const lines = await orderLines(o.id);
      const product1 = await api.get(`/dynamic/Product/${p1.id}`);

      expect(lines.map((l) => l.target.id)).toEqual([p2.id]);
      expect(product1.status).toBe(200);
    });

    it("allows the same edge to be created again after it was deleted", async () => {
      const o = await newOrder();
      const p = await newProduct();
      await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });
      await api.delete(`/dynamic/Order/${o.id}/relationships/CONTAINS/${p.id}`);

      const res = await contains(o.id, { targetId: p.id, properties: { quantity: 4 } });

      expect(res.status).toBe(201);
      expect((await orderLines(o.id)).map((l) => l.relationship.properties)).toEqual([{ quantity: 4 }]);
    });
  });

  describe("records and their edges", () => {
    it("removes the edges of a deleted source record", async () => {
      const o = await newOrder();
      const p = await newProduct();
      await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });

      await api.delete(`/dynamic/Order/${o.id}`);
      const incoming = await api.get(`/dynamic/Product/${p.id}/relationships/CONTAINS?direction=in`);

      expect(incoming.status).toBe(200);
      expect(incoming.body).toEqual([]);
    });

    it("removes the edges of a deleted target record", async () => {
      const o = await newOrder();
      const p1 = await newProduct();
      const p2 = await newProduct();
      await contains(o.id, { targetId: p1.id, properties: { quantity: 1 } });
      await contains(o.id, { targetId: p2.id, properties: { quantity: 1 } });

      await api.delete(`/dynamic/Product/${p1.id}`);
      const lines = await orderLines(o.id);

      expect(lines.map((l) => l.target.id)).toEqual([p2.id]);
    });

    it("keeps a record's edges when the record is replaced with PUT", async () => {
      const o = await newOrder();
      const p = await newProduct();
      await contains(o.id, { targetId: p.id, properties: { quantity: 1 } });

      const put = await api.put(`/dynamic/Product/${p.id}`, product({ name: "Renamed" }));
      const lines = await orderLines(o.id);

      expect(put.status).toBe(200);
      expect(lines.map((l) => [l.target.id, l.target.name])).toEqual([[p.id, "Renamed"]]);
    });

    it("frees a MANY_TO_ONE source once its target is deleted", async () => {
      const p1 = await newProduct();
      const p2 = await newProduct();
      const a = await newAlert(p1.id);
      await alertsOn(a.id, p1.id);

      await api.delete(`/dynamic/Product/${p1.id}`);
      const res = await alertsOn(a.id, p2.id);

      expect(res.status).toBe(201);
    });
  });
});

describe("relationships between records of one entity", () => {
  let flxbl: Emulator;
  let api: ReturnType<typeof as>;
  beforeAll(async () => {
    flxbl = await startEmulator({
      schema: {
        name: "social",
        entities: [
          {
            name: "Person",
            fields: [
              { name: "name", type: "STRING", required: true },
              { name: "password", type: "PASSWORD", required: false },
            ],
          },
        ],
        relationships: [
          { name: "FOLLOWS", sourceEntityName: "Person", targetEntityName: "Person", cardinality: "MANY_TO_MANY" },
        ],
      },
    });
    api = as(flxbl, flxbl.adminKey);
  });
  afterAll(() => flxbl.close());

  const person = async (name: string) =>
    (await api.post<Rec>("/dynamic/Person", { name, password: `${name}-secret` })).body;
  const follow = (from: string, to: string) =>
    api.post(`/dynamic/Person/${from}/relationships/FOLLOWS`, { targetId: to });
  const edges = async (id: string, direction: string) =>
    (await api.get<EdgeListItem[]>(`/dynamic/Person/${id}/relationships/FOLLOWS?direction=${direction}`)).body;

  it("lists outgoing and incoming edges together with direction=both", async () => {
    const ada = await person("ada");
    const bob = await person("bob");
    const cy = await person("cy");
    await follow(ada.id, bob.id);
    await follow(cy.id, ada.id);

    const both = await edges(ada.id, "both");

    const seen = both.map((l) => [l.relationship.direction, l.target.id]);
    expect(seen).toHaveLength(2);
    expect(seen).toEqual(
      expect.arrayContaining([
        ["out", bob.id],
        ["in", cy.id],
      ]),
    );
  });

  it("lists only the outgoing edges with direction=out", async () => {
    const ada = await person("ada");
    const bob = await person("bob");
    const cy = await person("cy");
    await follow(ada.id, bob.id);
    await follow(cy.id, ada.id);

    const out = await edges(ada.id, "out");

    expect(out.map((l) => [l.relationship.direction, l.target.id])).toEqual([["out", bob.id]]);
  });

  it("lists only the incoming edges with direction=in", async () => {
    const ada = await person("ada");
    const bob = await person("bob");
    const cy = await person("cy");
    await follow(ada.id, bob.id);
    await follow(cy.id, ada.id);

    const incoming = await edges(ada.id, "in");

    expect(incoming.map((l) => [l.relationship.direction, l.target.id])).toEqual([["in", cy.id]]);
  });

  it("never returns a PASSWORD field of a listed record", async () => {
    const ada = await person("ada");
    const bob = await person("bob");
    await follow(ada.id, bob.id);

    const out = await edges(ada.id, "out");

    expect(out).toHaveLength(1);
    expect(out[0]?.target).toMatchObject({ id: bob.id, name: "bob" });
    expect(out[0]?.target).not.toHaveProperty("password");
  });
});
