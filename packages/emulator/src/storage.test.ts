import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Emulator, EmulatorConfig, SeedData } from "./index.js";
import { as, keyWith, order, product, startAppEmulator } from "./test-helpers.js";

let dir: string;
let dbFile: string;
const running = new Set<Emulator>();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "flxbl-storage-"));
  dbFile = join(dir, "flxbl.db");
});

afterEach(async () => {
  await Promise.all([...running].map((e) => e.close()));
  running.clear();
  await rm(dir, { recursive: true, force: true });
});

/** An emulator on this test's database file; closed after the test unless stopped before. */
async function start(config: Partial<EmulatorConfig> = {}): Promise<Emulator> {
  const flxbl = await startAppEmulator({ db: dbFile, ...config });
  running.add(flxbl);
  return flxbl;
}

async function stop(flxbl: Emulator): Promise<void> {
  running.delete(flxbl);
  await flxbl.close();
}

/** Stops `flxbl` and starts a new emulator on the same file. */
async function restart(flxbl: Emulator, config: Partial<EmulatorConfig> = {}): Promise<Emulator> {
  await stop(flxbl);
  return start(config);
}

const seed: SeedData = {
  records: {
    Product: [{ id: "node_seed_product", ...product({ sku: "SEED-1" }) }],
    Order: [{ id: "node_seed_order", ...order({ number: "SEED-ORD" }), createdAt: "2024-01-02T03:04:05.000Z" }],
  },
  relationships: [
    { type: "CONTAINS", sourceId: "node_seed_order", targetId: "node_seed_product", properties: { quantity: 2 } },
  ],
};

describe("a file database", () => {
  it("keeps records across close() and a restart", async () => {
    const first = await start();
    const created = await as(first, first.adminKey).post("/dynamic/Order", order({ metadata: { source: "test" } }));

    const second = await restart(first);

    const read = await as(second, second.adminKey).get(`/dynamic/Order/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
  });

  it("keeps updates and deletes across a restart", async () => {
    const first = await start();
    const admin = as(first, first.adminKey);
    const kept = await admin.post("/dynamic/Product", product({ sku: "KEPT" }));
    const gone = await admin.post("/dynamic/Product", product({ sku: "GONE" }));
    const patched = await admin.patch(`/dynamic/Product/${kept.body.id}`, { stock: 0 });
    await admin.delete(`/dynamic/Product/${gone.body.id}`);

    const second = await restart(first);

    const list = await as(second, second.adminKey).get("/dynamic/Product");
    expect(list.body.data).toEqual([patched.body]);
  });

  it("keeps relationships and their properties across a restart", async () => {
    const first = await start();
    const admin = as(first, first.adminKey);
    const o = await admin.post("/dynamic/Order", order());
    const p = await admin.post("/dynamic/Product", product());
    await admin.post(`/dynamic/Order/${o.body.id}/relationships/CONTAINS`, {
      targetId: p.body.id,
      properties: { quantity: 4, unitPrice: 2.5 },
    });

    const second = await restart(first);

    const edges = await as(second, second.adminKey).get(`/dynamic/Order/${o.body.id}/relationships/CONTAINS`);
    expect(edges.body).toEqual([
      {
        relationship: { type: "CONTAINS", direction: "out", properties: { quantity: 4, unitPrice: 2.5 } },
        target: p.body,
      },
    ]);
  });

  it("keeps API keys across a restart", async () => {
    const first = await start();
    const key = await keyWith(first, ["entity:Order:read"]);

    const second = await restart(first);

    expect((await as(second, key).get("/dynamic/Order")).status).toBe(200);
  });

  it("keeps a revoked key revoked across a restart", async () => {
    const first = await start();
    const admin = as(first, first.adminKey);
    const created = await admin.post("/api-keys", { name: "revoked", scopes: ["entity:*:*"] });
    await admin.delete(`/api-keys/${created.body.id}`);

    const second = await restart(first);

    expect((await as(second, created.body.key).get("/dynamic/Order")).status).toBe(401);
  });

  it("accepts 100 concurrent creates with distinct ids and lists all of them", async () => {
    const flxbl = await start();
    const admin = as(flxbl, flxbl.adminKey);

    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => admin.post("/dynamic/Order", order({ number: `ORD-${i}` }))),
    );

    expect(answers.every((a) => a.status === 201)).toBe(true);
    const ids = new Set(answers.map((a) => a.body.id));
    expect(ids.size).toBe(100);
    const list = await admin.get("/dynamic/Order?limit=1000");
    expect(list.body.pagination.total).toBe(100);
    expect(new Set(list.body.data.map((r: { id: string }) => r.id))).toEqual(ids);
  });

  it("applies every one of concurrent PATCHes of different fields to one record", async () => {
    const flxbl = await start();
    const admin = as(flxbl, flxbl.adminKey);
    const created = await admin.post("/dynamic/Order", order());
    const changes = [
      { status: "paid" },
      { total: 4200 },
      { currency: "usd" },
      { customerEmail: "a@example.com" },
      { paymentReference: "pi_123" },
      { lastPaymentError: "none" },
      { metadata: { attempt: 2 } },
    ];

    const answers = await Promise.all(changes.map((c) => admin.patch(`/dynamic/Order/${created.body.id}`, c)));

    expect(answers.every((a) => a.status === 200)).toBe(true);
    const read = await admin.get(`/dynamic/Order/${created.body.id}`);
    expect(read.body).toMatchObject(Object.assign({ number: created.body.number }, ...changes));
  });

  it("leaves the answer of one of concurrent PATCHes of one field as the record, in memory and on disk", async () => {
    const first = await start();
    const admin = as(first, first.adminKey);
    const created = await admin.post("/dynamic/Order", order());

    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => admin.patch(`/dynamic/Order/${created.body.id}`, { total: i })),
    );
    const live = await admin.get(`/dynamic/Order/${created.body.id}`);
    const second = await restart(first);
    const reloaded = await as(second, second.adminKey).get(`/dynamic/Order/${created.body.id}`);

    expect(answers.map((a) => a.body)).toContainEqual(live.body);
    expect(reloaded.body).toEqual(live.body);
  });
});

describe("seed data", () => {
  it("loads records with their given ids into an empty database", async () => {
    const flxbl = await start({ seed });

    const p = await as(flxbl, flxbl.adminKey).get("/dynamic/Product/node_seed_product");
    const o = await as(flxbl, flxbl.adminKey).get("/dynamic/Order/node_seed_order");

    expect(p.status).toBe(200);
    expect(p.body).toMatchObject(product({ sku: "SEED-1", id: "node_seed_product" }));
    expect(o.body).toMatchObject({ number: "SEED-ORD", createdAt: "2024-01-02T03:04:05.000Z" });
  });

  it("loads relationships between seeded records", async () => {
    const flxbl = await start({ seed });

    const edges = await as(flxbl, flxbl.adminKey).get("/dynamic/Order/node_seed_order/relationships/CONTAINS");

    expect(edges.body).toEqual([
      {
        relationship: { type: "CONTAINS", direction: "out", properties: { quantity: 2 } },
        target: expect.objectContaining({ id: "node_seed_product" }),
      },
    ]);
  });

  it("is not applied again on a restart", async () => {
    const first = await start({ seed });
    await as(first, first.adminKey).patch("/dynamic/Product/node_seed_product", { name: "Changed" });

    const second = await restart(first, { seed });

    const list = await as(second, second.adminKey).get("/dynamic/Product");
    expect(list.body.data.map((p: { name: string }) => p.name)).toEqual(["Changed"]);
  });

  it("is not loaded into a database that holds records", async () => {
    const first = await start();
    await as(first, first.adminKey).post("/dynamic/StockAlert", {
      productId: "p",
      sku: "S",
      stock: 1,
      threshold: 2,
      status: "open",
    });

    const second = await restart(first, { seed });

    expect((await as(second, second.adminKey).get("/dynamic/Product")).body.pagination.total).toBe(0);
  });

  it.each<{ case: string; seed: SeedData; error: RegExp }>([
    { case: "an unknown entity", seed: { records: { Nope: [{}] } }, error: /unknown entity Nope/ },
    {
      case: "a record missing a required field",
      seed: { records: { Product: [{ id: "node_p", sku: "S" }] } },
      error: /Seed record of Product is invalid.*name/,
    },
    {
      case: "an unknown relationship",
      seed: { relationships: [{ type: "LIKES", sourceId: "a", targetId: "b" }] },
      error: /unknown relationship LIKES/,
    },
    {
      case: "an edge from an unknown record",
      seed: { relationships: [{ type: "CONTAINS", sourceId: "node_none", targetId: "b" }] },
      error: /Seed edge CONTAINS .*node_none/,
    },
    {
      case: "an edge to an unknown record",
      seed: {
        records: { Order: [{ id: "node_o", ...order() }] },
        relationships: [{ type: "CONTAINS", sourceId: "node_o", targetId: "node_none", properties: { quantity: 1 } }],
      },
      error: /Seed edge CONTAINS .*node_none/,
    },
    {
      case: "an edge missing a required property",
      seed: {
        records: { Order: [{ id: "node_o", ...order() }], Product: [{ id: "node_p", ...product() }] },
        relationships: [{ type: "CONTAINS", sourceId: "node_o", targetId: "node_p" }],
      },
      error: /Seed edge CONTAINS .*quantity/,
    },
  ])("refuses to start with a seed holding $case, saying what is wrong", async ({ seed: bad, error }) => {
    const attempt = start({ seed: bad });

    await expect(attempt).rejects.toThrow(error);
  });

  it("leaves the database empty after a refused seed, so a corrected seed loads on the next start", async () => {
    const broken: SeedData = {
      records: seed.records,
      relationships: [{ type: "CONTAINS", sourceId: "node_seed_order", targetId: "node_seed_product" }],
    };
    await expect(start({ seed: broken })).rejects.toThrow();

    const flxbl = await start({ seed });

    const edges = await as(flxbl, flxbl.adminKey).get("/dynamic/Order/node_seed_order/relationships/CONTAINS");
    expect(edges.body).toHaveLength(1);
  });
});
