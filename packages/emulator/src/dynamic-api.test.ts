import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Emulator } from "./index.js";
import { as, order, product, startAppEmulator } from "./test-helpers.js";

const nodeId = /^node_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Rec {
  id: string;
  createdAt: string;
  updatedAt: string;
  [field: string]: unknown;
}

/** A raw request with full control over the body bytes and content type. */
async function raw(flxbl: Emulator, method: string, path: string, body: string, contentType?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${flxbl.adminKey}` };
  if (contentType !== undefined) headers["content-type"] = contentType;
  const res = await fetch(`${flxbl.url}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Creates `n` products over HTTP, one after another, and returns them as created. */
async function createProducts(api: ReturnType<typeof as>, n: number, make = (i: number) => product({ sku: `P-${i}` })) {
  const created: Rec[] = [];
  for (let i = 0; i < n; i++) {
    const res = await api.post<Rec>("/dynamic/Product", make(i));
    if (res.status !== 201) throw new Error(`creating product ${i} answered ${res.status}`);
    created.push(res.body);
  }
  return created;
}

describe("Dynamic API records", () => {
  let flxbl: Emulator;
  let api: ReturnType<typeof as>;
  beforeAll(async () => {
    flxbl = await startAppEmulator();
    api = as(flxbl, flxbl.adminKey);
  });
  afterAll(() => flxbl.close());

  describe("create", () => {
    it("answers 201 with the created record", async () => {
      const body = product({ sku: "CREATE-1", tags: ["new"] });

      const res = await api.post<Rec>("/dynamic/Product", body);

      expect(res.status).toBe(201);
      expect(res.body).toMatchObject(body);
    });

    it("gives the record an id shaped node_<uuid>", async () => {
      const res = await api.post<Rec>("/dynamic/Product", product());

      expect(res.body.id).toMatch(nodeId);
    });

    it("gives every record a different id", async () => {
      const a = await api.post<Rec>("/dynamic/Product", product());
      const b = await api.post<Rec>("/dynamic/Product", product());

      expect(a.body.id).not.toBe(b.body.id);
    });

    it("sets createdAt and updatedAt to the same ISO 8601 instant", async () => {
      const before = Date.now();

      const res = await api.post<Rec>("/dynamic/Product", product());

      expect(res.body.createdAt).toBe(new Date(res.body.createdAt).toISOString());
      expect(res.body.updatedAt).toBe(res.body.createdAt);
      expect(Date.parse(res.body.createdAt)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(res.body.createdAt)).toBeLessThanOrEqual(Date.now());
    });
  });

  describe("get", () => {
    it("reads a record back by id exactly as it was created", async () => {
      const created = await api.post<Rec>("/dynamic/Order", order({ metadata: { source: "web" } }));

      const read = await api.get<Rec>(`/dynamic/Order/${created.body.id}`);

      expect(read.status).toBe(200);
      expect(read.body).toEqual(created.body);
    });

    it("answers 404 Entity not found for an id that does not exist", async () => {
      const res = await api.get("/dynamic/Product/node_00000000-0000-4000-8000-000000000000");

      expect(res.status).toBe(404);
      expect(res.body).toEqual({ statusCode: 404, message: "Entity not found", error: "Not Found" });
    });

    it("answers 404 for the id of a record of another entity", async () => {
      const created = await api.post<Rec>("/dynamic/Order", order());

      const res = await api.get(`/dynamic/Product/${created.body.id}`);

      expect(res.status).toBe(404);
      expect(res.body.message).toBe("Entity not found");
    });
  });

  describe("PUT (full replace)", () => {
    it("drops the optional fields the replacement does not send", async () => {
      const created = await api.post<Rec>("/dynamic/Product", product({ tags: ["a"], stockVersion: 3 }));

      const res = await api.put<Rec>(`/dynamic/Product/${created.body.id}`, product({ name: "Replaced" }));
      const read = await api.get<Rec>(`/dynamic/Product/${created.body.id}`);

      expect(res.status).toBe(200);
      expect(read.body.name).toBe("Replaced");
      expect(read.body).not.toHaveProperty("tags");
      expect(read.body).not.toHaveProperty("stockVersion");
    });

    it("answers with the record as replaced, keeping its id", async () => {
      const created = await api.post<Rec>("/dynamic/Product", product());
      const replacement = product({ sku: "SKU-PUT", price: 1.25, stock: 0 });

      const res = await api.put<Rec>(`/dynamic/Product/${created.body.id}`, replacement);

      expect(res.body).toEqual({
        ...replacement,
        id: created.body.id,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
    });

    it("keeps createdAt and moves updatedAt forward", async () => {
      const created = await api.post<Rec>("/dynamic/Product", product());
      await sleep(5);

      const res = await api.put<Rec>(`/dynamic/Product/${created.body.id}`, product({ stock: 1 }));

      expect(res.body.createdAt).toBe(created.body.createdAt);
      expect(Date.parse(res.body.updatedAt)).toBeGreaterThan(Date.parse(created.body.updatedAt));
    });

    it("answers 404 for a record that does not exist", async () => {
      const res = await api.put("/dynamic/Product/node_00000000-0000-4000-8000-000000000000", product());

      expect(res.status).toBe(404);
      expect(res.body.message).toBe("Entity not found");
    });
  });

  describe("PATCH (partial update)", () => {
    it("changes only the fields it sends", async () => {
      const created = await api.post<Rec>("/dynamic/Product", product({ tags: ["keep"], stockVersion: 2 }));

      const res = await api.patch<Rec>(`/dynamic/Product/${created.body.id}`, { stock: 99 });
      const read = await api.get<Rec>(`/dynamic/Product/${created.body.id}`);

      expect(res.status).toBe(200);
      const { updatedAt: _u, ...rest } = created.body;
      expect(read.body).toEqual({ ...rest, stock: 99, updatedAt: expect.any(String) });
    });

    it("keeps createdAt and moves updatedAt forward", async () => {
      const created = await api.post<Rec>("/dynamic/Product", product());
      await sleep(5);

      const res = await api.patch<Rec>(`/dynamic/Product/${created.body.id}`, { active: false });

      expect(res.body.createdAt).toBe(created.body.createdAt);
      expect(Date.parse(res.body.updatedAt)).toBeGreaterThan(Date.parse(created.body.updatedAt));
    });

    it("answers 404 for a record that does not exist", async () => {
      const res = await api.patch("/dynamic/Product/node_00000000-0000-4000-8000-000000000000", { stock: 1 });

      expect(res.status).toBe(404);
      expect(res.body.message).toBe("Entity not found");
    });
  });

  describe("DELETE", () => {
    it("answers 204 with an empty body", async () => {
      const created = await api.post<Rec>("/dynamic/Product", product());

      const res = await api.delete(`/dynamic/Product/${created.body.id}`);

      expect(res.status).toBe(204);
      expect(res.body).toBeUndefined();
    });

    it("makes the record answer 404 afterwards", async () => {
      const created = await api.post<Rec>("/dynamic/Product", product());

      await api.delete(`/dynamic/Product/${created.body.id}`);
      const read = await api.get(`/dynamic/Product/${created.body.id}`);

      expect(read.status).toBe(404);
      expect(read.body.message).toBe("Entity not found");
    });

    it("answers 404 when the record is deleted a second time", async () => {
      const created = await api.post<Rec>("/dynamic/Product", product());
      await api.delete(`/dynamic/Product/${created.body.id}`);

      const again = await api.delete(`/dynamic/Product/${created.body.id}`);

      expect(again.status).toBe(404);
    });

    it("removes the record's relationships too", async () => {
      const o = await api.post<Rec>("/dynamic/Order", order());
      const p = await api.post<Rec>("/dynamic/Product", product());
      const edge = await api.post(`/dynamic/Order/${o.body.id}/relationships/CONTAINS`, {
        targetId: p.body.id,
        properties: { quantity: 1 },
      });

      await api.delete(`/dynamic/Product/${p.body.id}`);
      const edges = await api.get(`/dynamic/Order/${o.body.id}/relationships/CONTAINS`);

      expect(edge.status).toBe(201);
      expect(edges.status).toBe(200);
      expect(edges.body).toEqual([]);
    });
  });

  describe("unknown entities and routes", () => {
    it("answers 404 for an entity the schema does not declare", async () => {
      const res = await api.get("/dynamic/Customer");

      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ statusCode: 404, error: "Not Found" });
    });

    it("answers 404 for an entity name in the wrong case", async () => {
      const list = await api.get("/dynamic/product");
      const create = await api.post("/dynamic/product", product());

      expect(list.status).toBe(404);
      expect(create.status).toBe(404);
    });

    it("answers 404 for an existing record read through a wrongly cased entity name", async () => {
      const created = await api.post<Rec>("/dynamic/Product", product());

      const res = await api.get(`/dynamic/PRODUCT/${created.body.id}`);

      expect(res.status).toBe(404);
    });

    it("answers 404 for a plural entity name", async () => {
      const res = await api.get("/dynamic/Products");

      expect(res.status).toBe(404);
    });

    it("answers 404 for a path under /api/v1 that is no route", async () => {
      const res = await api.get("/nothing/here");

      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ statusCode: 404, error: "Not Found" });
    });

    it("answers 404 for a method the collection does not support", async () => {
      const res = await api.delete("/dynamic/Product");

      expect(res.status).toBe(404);
    });

    it("answers 404 for a path outside /api/v1", async () => {
      const res = await fetch(`${flxbl.origin}/dynamic/Product`, {
        headers: { authorization: `Bearer ${flxbl.adminKey}` },
      });

      expect(res.status).toBe(404);
    });
  });

  describe("request bodies", () => {
    it("answers 400 for malformed JSON", async () => {
      const res = await raw(flxbl, "POST", "/dynamic/Product", '{"sku": "A", ', "application/json");

      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: "Bad Request" });
    });

    it("answers 415 for a body that is not sent as application/json", async () => {
      const res = await raw(flxbl, "POST", "/dynamic/Product", JSON.stringify(product()), "text/plain");

      expect(res.status).toBe(415);
      expect(res.body.statusCode).toBe(415);
    });

    it("accepts application/json with a charset parameter", async () => {
      const res = await raw(
        flxbl,
        "POST",
        "/dynamic/Product",
        JSON.stringify(product()),
        "application/json; charset=utf-8",
      );

      expect(res.status).toBe(201);
    });
  });
});

describe("Dynamic API body size limit", () => {
  let flxbl: Emulator;
  let api: ReturnType<typeof as>;
  beforeAll(async () => {
    flxbl = await startAppEmulator({ maxBodyBytes: 512 });
    api = as(flxbl, flxbl.adminKey);
  });
  afterAll(() => flxbl.close());

  it("answers 413 for a body larger than maxBodyBytes", async () => {
    const res = await api.post("/dynamic/Product", product({ name: "x".repeat(2000) }));

    expect(res.status).toBe(413);
    expect(res.body.statusCode).toBe(413);
  });

  it("answers 413 for a body many times larger than maxBodyBytes", async () => {
    const res = await api.post("/dynamic/Product", product({ name: "x".repeat(100_000) }));

    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ statusCode: 413, error: "Payload Too Large" });
  });

  it("keeps answering requests after refusing an oversize body", async () => {
    await api.post("/dynamic/Product", product({ name: "x".repeat(100_000) }));

    const next = await api.post("/dynamic/Product", product({ sku: "AFTER-413" }));

    expect(next.status).toBe(201);
    expect(next.body.sku).toBe("AFTER-413");
  });

  it("accepts a body within maxBodyBytes", async () => {
    const res = await api.post("/dynamic/Product", product());

    expect(res.status).toBe(201);
  });
});

describe("Dynamic API list", () => {
  let flxbl: Emulator;
  let api: ReturnType<typeof as>;
  beforeEach(async () => {
    flxbl = await startAppEmulator();
    api = as(flxbl, flxbl.adminKey);
  });
  afterEach(() => flxbl.close());

  const byId = (a: Rec, b: Rec) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

  it("answers an envelope of data and pagination {limit, offset, total}", async () => {
    const created = await createProducts(api, 3);

    const res = await api.get("/dynamic/Product");

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: expect.any(Array),
      pagination: { limit: 100, offset: 0, total: 3 },
    });
    expect([...res.body.data].sort(byId)).toEqual([...created].sort(byId));
  });

  it("answers an empty page for an entity with no records", async () => {
    const res = await api.get("/dynamic/Order");

    expect(res.body).toEqual({ data: [], pagination: { limit: 100, offset: 0, total: 0 } });
  });

  it("returns at most limit records from offset, with the total of all", async () => {
    const created = await createProducts(api, 5, (i) => product({ sku: `P-${i}`, stock: i }));
    const sorted = [...created].sort((a, b) => (a.stock as number) - (b.stock as number));

    const res = await api.get("/dynamic/Product?orderBy=stock&limit=2&offset=1");

    expect(res.body.data.map((r: Rec) => r.id)).toEqual(sorted.slice(1, 3).map((r) => r.id));
    expect(res.body.pagination).toEqual({ limit: 2, offset: 1, total: 5 });
  });

  it("pages through every record once with limit and offset", async () => {
    const created = await createProducts(api, 7);

    const seen: string[] = [];
    for (let offset = 0; offset < 7; offset += 3) {
      const page = await api.get(`/dynamic/Product?limit=3&offset=${offset}`);
      seen.push(...page.body.data.map((r: Rec) => r.id));
    }

    expect(seen).toHaveLength(7);
    expect([...seen].sort()).toEqual(created.map((r) => r.id).sort());
  });

  it("answers an empty page for an offset past the end", async () => {
    await createProducts(api, 2);

    const res = await api.get("/dynamic/Product?offset=10");

    expect(res.body.data).toEqual([]);
    expect(res.body.pagination.total).toBe(2);
  });

  it("orders by a field ascending with orderBy", async () => {
    const prices = [4.5, 1.25, 9, 3, 7.75];
    const created = await createProducts(api, prices.length, (i) => product({ sku: `P-${i}`, price: prices[i] }));
    const expected = [...created].sort((a, b) => (a.price as number) - (b.price as number)).map((r) => r.id);

    const res = await api.get("/dynamic/Product?orderBy=price");

    expect(res.body.data.map((r: Rec) => r.id)).toEqual(expected);
  });

  it("orders by a field descending with orderDirection=DESC", async () => {
    const prices = [4.5, 1.25, 9, 3, 7.75];
    const created = await createProducts(api, prices.length, (i) => product({ sku: `P-${i}`, price: prices[i] }));
    const expected = [...created].sort((a, b) => (b.price as number) - (a.price as number)).map((r) => r.id);

    const res = await api.get("/dynamic/Product?orderBy=price&orderDirection=DESC");

    expect(res.body.data.map((r: Rec) => r.id)).toEqual(expected);
  });

  it("orders by a string field with orderBy", async () => {
    const skus = ["C-3", "A-1", "E-5", "B-2", "D-4"];
    const created = await createProducts(api, skus.length, (i) => product({ sku: skus[i] }));
    const expected = [...created].sort((a, b) => String(a.sku).localeCompare(String(b.sku))).map((r) => r.id);

    const res = await api.get("/dynamic/Product?orderBy=sku&orderDirection=ASC");

    expect(res.body.data.map((r: Rec) => r.id)).toEqual(expected);
  });

  it("answers 400 for orderBy naming an unknown field", async () => {
    const res = await api.get("/dynamic/Product?orderBy=colour");

    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: "Bad Request" });
  });

  it("answers 400 for an orderDirection other than ASC or DESC", async () => {
    const res = await api.get("/dynamic/Product?orderBy=price&orderDirection=UP");

    expect(res.status).toBe(400);
  });

  it("answers 400 for a limit that is not a positive integer", async () => {
    const zero = await api.get("/dynamic/Product?limit=0");
    const word = await api.get("/dynamic/Product?limit=ten");

    expect(zero.status).toBe(400);
    expect(word.status).toBe(400);
  });

  it("answers 400 for a negative offset", async () => {
    const res = await api.get("/dynamic/Product?offset=-1");

    expect(res.status).toBe(400);
  });

  it("returns 100 records by default when no limit is given", async () => {
    await createProducts(api, 101);

    const res = await api.get("/dynamic/Product");

    expect(res.body.data).toHaveLength(100);
    expect(res.body.pagination).toEqual({ limit: 100, offset: 0, total: 101 });
  });

  it("clamps a limit above the maximum of 1000", async () => {
    const res = await api.get("/dynamic/Product?limit=5000");

    expect(res.status).toBe(200);
    expect(res.body.pagination.limit).toBe(1000);
  });
});

describe("Dynamic API list limits from options", () => {
  let flxbl: Emulator;
  let api: ReturnType<typeof as>;
  beforeAll(async () => {
    flxbl = await startAppEmulator({ behaviour: { defaultLimit: 2, maxLimit: 3 } });
    api = as(flxbl, flxbl.adminKey);
    await createProducts(api, 5);
  });
  afterAll(() => flxbl.close());

  it("uses the configured defaultLimit when no limit is given", async () => {
    const res = await api.get("/dynamic/Product");

    expect(res.body.data).toHaveLength(2);
    expect(res.body.pagination).toEqual({ limit: 2, offset: 0, total: 5 });
  });

  it("returns no more than the configured maxLimit for a larger limit", async () => {
    const res = await api.get("/dynamic/Product?limit=10");

    expect(res.body.data).toHaveLength(3);
    expect(res.body.pagination).toEqual({ limit: 3, offset: 0, total: 5 });
  });
});
