import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "./index.js";
import { covers, isScope, type Operation } from "./keys.js";
import { type Answer, as, keyWith, order, product, startAppEmulator } from "./test-helpers.js";

const keyShape = /^flxbl_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{16,}$/;
const allOps: Operation[] = ["create", "read", "update", "delete"];

/** A GET of the Product list with exactly these headers: for auth cases `as()` cannot send. */
async function listWithHeaders(flxbl: Emulator, headers: Record<string, string>): Promise<Answer<any>> {
  const res = await fetch(`${flxbl.url}/dynamic/Product`, { headers });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

async function newOrder(flxbl: Emulator): Promise<string> {
  const res = await as(flxbl, flxbl.adminKey).post("/dynamic/Order", order());
  return res.body.id;
}

async function newProduct(flxbl: Emulator): Promise<string> {
  const res = await as(flxbl, flxbl.adminKey).post("/dynamic/Product", product());
  return res.body.id;
}

/** An order and a product, with a CONTAINS edge between them when `linked`. */
async function orderAndProduct(flxbl: Emulator, linked: boolean) {
  const orderId = await newOrder(flxbl);
  const productId = await newProduct(flxbl);
  if (linked) {
    await as(flxbl, flxbl.adminKey).post(`/dynamic/Order/${orderId}/relationships/CONTAINS`, {
      targetId: productId,
      properties: { quantity: 1 },
    });
  }
  return { orderId, productId };
}

interface Call {
  /** Short enough for vitest to print whole in a test name (edge routes abbreviate /dynamic/Order/:id). */
  route: string;
  op: Operation;
  /** Prepares what the call needs with the admin key, then sends it with `key`. */
  send: (flxbl: Emulator, key: string) => Promise<Answer<any>>;
}

const orderCalls: Call[] = [
  { route: "GET /dynamic/Order", op: "read", send: (f, k) => as(f, k).get("/dynamic/Order") },
  {
    route: "GET /dynamic/Order/:id",
    op: "read",
    send: async (f, k) => as(f, k).get(`/dynamic/Order/${await newOrder(f)}`),
  },
  {
    route: "POST /dynamic/Order/query",
    op: "read",
    send: (f, k) => as(f, k).post("/dynamic/Order/query", { where: { status: "pending" } }),
  },
  { route: "POST /dynamic/Order", op: "create", send: (f, k) => as(f, k).post("/dynamic/Order", order()) },
  {
    route: "PUT /dynamic/Order/:id",
    op: "update",
    send: async (f, k) => as(f, k).put(`/dynamic/Order/${await newOrder(f)}`, order({ status: "paid" })),
  },
  {
    route: "PATCH /dynamic/Order/:id",
    op: "update",
    send: async (f, k) => as(f, k).patch(`/dynamic/Order/${await newOrder(f)}`, { status: "paid" }),
  },
  {
    route: "DELETE /dynamic/Order/:id",
    op: "delete",
    send: async (f, k) => as(f, k).delete(`/dynamic/Order/${await newOrder(f)}`),
  },
];

const containsCalls: Call[] = [
  {
    route: "POST /…/relationships/CONTAINS",
    op: "create",
    send: async (f, k) => {
      const { orderId, productId } = await orderAndProduct(f, false);
      return as(f, k).post(`/dynamic/Order/${orderId}/relationships/CONTAINS`, {
        targetId: productId,
        properties: { quantity: 2 },
      });
    },
  },
  {
    route: "GET /…/relationships/CONTAINS",
    op: "read",
    send: async (f, k) => {
      const { orderId } = await orderAndProduct(f, true);
      return as(f, k).get(`/dynamic/Order/${orderId}/relationships/CONTAINS`);
    },
  },
  {
    route: "PATCH /…/CONTAINS/:targetId",
    op: "update",
    send: async (f, k) => {
      const { orderId, productId } = await orderAndProduct(f, true);
      return as(f, k).patch(`/dynamic/Order/${orderId}/relationships/CONTAINS/${productId}`, {
        properties: { quantity: 3 },
      });
    },
  },
  {
    route: "DELETE /…/CONTAINS/:targetId",
    op: "delete",
    send: async (f, k) => {
      const { orderId, productId } = await orderAndProduct(f, true);
      return as(f, k).delete(`/dynamic/Order/${orderId}/relationships/CONTAINS/${productId}`);
    },
  },
];

const succeeded = (status: number) => status >= 200 && status < 300;

describe("authentication", () => {
  let flxbl: Emulator;
  beforeAll(async () => {
    flxbl = await startAppEmulator();
  });
  afterAll(() => flxbl.close());

  it.each<{ case: string; headers: Record<string, string> }>([
    { case: "a missing Authorization header", headers: {} },
    { case: "a non-Bearer Authorization header", headers: { authorization: "Basic dXNlcjpwYXNz" } },
    { case: "an empty Bearer token", headers: { authorization: "Bearer " } },
    { case: "an unknown key", headers: { authorization: `Bearer flxbl_abcdefgh_${"x".repeat(32)}` } },
    { case: "a malformed token", headers: { authorization: "Bearer not-a-flxbl-key" } },
  ])("answers 401 with a NestJS error body to $case", async ({ headers }) => {
    const res = await listWithHeaders(flxbl, headers);

    expect(res.status).toBe(401);
    expect(res.body).toEqual({ statusCode: 401, message: expect.any(String), error: "Unauthorized" });
  });

  it("answers 401 to a revoked key", async () => {
    const admin = as(flxbl, flxbl.adminKey);
    const created = await admin.post("/api-keys", { name: "soon revoked", scopes: ["entity:*:*"] });
    await admin.delete(`/api-keys/${created.body.id}`);

    const res = await as(flxbl, created.body.key).get("/dynamic/Product");

    expect(res.status).toBe(401);
    expect(res.body).toEqual({ statusCode: 401, message: expect.any(String), error: "Unauthorized" });
  });

  it("lets the admin key in without any key being created", async () => {
    const res = await as(flxbl, flxbl.adminKey).post("/dynamic/StockAlert", {
      productId: "p",
      sku: "SKU-1",
      stock: 1,
      threshold: 3,
      status: "open",
    });

    expect(res.status).toBe(201);
  });
});

describe("API key management", () => {
  let flxbl: Emulator;
  beforeAll(async () => {
    flxbl = await startAppEmulator();
  });
  afterAll(() => flxbl.close());

  it("creates a key with 201 and {id, name, key, scopes, createdAt}", async () => {
    const before = Date.now();

    const res = await as(flxbl, flxbl.adminKey).post("/api-keys", {
      name: "order reader",
      scopes: ["entity:Order:read"],
    });

    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(["createdAt", "id", "key", "name", "scopes"]);
    expect(res.body.id).toMatch(/^key_[A-Za-z0-9]+$/);
    expect(res.body.name).toBe("order reader");
    expect(keyShape.test(res.body.key)).toBe(true);
    expect(res.body.scopes).toEqual(["entity:Order:read"]);
    expect(new Date(res.body.createdAt).toISOString()).toBe(res.body.createdAt);
    expect(Date.parse(res.body.createdAt)).toBeGreaterThanOrEqual(before - 1000);
  });

  it("gives every created key a different id and secret", async () => {
    const admin = as(flxbl, flxbl.adminKey);

    const a = await admin.post("/api-keys", { name: "a", scopes: ["entity:*:read"] });
    const b = await admin.post("/api-keys", { name: "b", scopes: ["entity:*:read"] });

    expect(a.body.id).not.toBe(b.body.id);
    expect(a.body.key === b.body.key).toBe(false);
  });

  it("makes a new key usable at once", async () => {
    const key = await keyWith(flxbl, ["entity:Product:read"]);

    const res = await as(flxbl, key).get("/dynamic/Product");

    expect(res.status).toBe(200);
  });

  it("lists a key with its public prefix but never the key", async () => {
    const admin = as(flxbl, flxbl.adminKey);
    const created = await admin.post("/api-keys", { name: "listed", scopes: ["entity:Order:*"] });

    const res = await admin.get("/api-keys");

    expect(res.status).toBe(200);
    const listed = res.body.find((k: { id: string }) => k.id === created.body.id);
    expect(listed).toEqual({
      id: created.body.id,
      name: "listed",
      keyPrefix: created.body.key.slice(0, "flxbl_".length + 8),
      scopes: ["entity:Order:*"],
      createdAt: created.body.createdAt,
    });
    const secret = created.body.key.slice("flxbl_".length + 9);
    expect(JSON.stringify(res.body).includes(secret)).toBe(false);
  });

  it("revokes a key with DELETE /api-keys/:id so it answers 401 at once", async () => {
    const admin = as(flxbl, flxbl.adminKey);
    const created = await admin.post("/api-keys", { name: "revoked", scopes: ["entity:*:*"] });
    expect((await as(flxbl, created.body.key).get("/dynamic/Order")).status).toBe(200);

    const revoked = await admin.delete(`/api-keys/${created.body.id}`);

    expect(revoked.status).toBe(204);
    expect((await as(flxbl, created.body.key).get("/dynamic/Order")).status).toBe(401);
  });

  it("drops a revoked key from the list", async () => {
    const admin = as(flxbl, flxbl.adminKey);
    const created = await admin.post("/api-keys", { name: "gone", scopes: ["entity:*:*"] });
    await admin.delete(`/api-keys/${created.body.id}`);

    const res = await admin.get("/api-keys");

    expect(res.body.map((k: { id: string }) => k.id)).not.toContain(created.body.id);
  });

  it("answers 404 to a second revocation of the same key", async () => {
    const admin = as(flxbl, flxbl.adminKey);
    const created = await admin.post("/api-keys", { name: "twice", scopes: ["entity:*:*"] });
    await admin.delete(`/api-keys/${created.body.id}`);

    const res = await admin.delete(`/api-keys/${created.body.id}`);

    expect(res.status).toBe(404);
    expect(res.body).toEqual({ statusCode: 404, message: expect.any(String), error: "Not Found" });
  });

  it("answers 404 to revoking an unknown key id", async () => {
    const res = await as(flxbl, flxbl.adminKey).delete("/api-keys/key_doesnotexist");

    expect(res.status).toBe(404);
  });

  it.each([
    { case: "a missing name", body: { scopes: ["entity:*:read"] }, fields: ["name"] },
    { case: "a blank name", body: { name: "  ", scopes: ["entity:*:read"] }, fields: ["name"] },
    {
      case: "a name over 255 characters",
      body: { name: "n".repeat(256), scopes: ["entity:*:read"] },
      fields: ["name"],
    },
    { case: "missing scopes", body: { name: "k" }, fields: ["scopes"] },
    { case: "an empty scope list", body: { name: "k", scopes: [] }, fields: ["scopes"] },
    { case: "scopes that are not an array", body: { name: "k", scopes: "entity:*:*" }, fields: ["scopes"] },
    { case: "an unknown operation", body: { name: "k", scopes: ["entity:Order:write"] }, fields: ["scopes"] },
    { case: "an unknown kind", body: { name: "k", scopes: ["field:Order:read"] }, fields: ["scopes"] },
    { case: "a bad name and a bad scope", body: { name: "", scopes: ["entity:Order"] }, fields: ["name", "scopes"] },
  ])("answers 400 with per-field errors to $case", async ({ body, fields }) => {
    const res = await as(flxbl, flxbl.adminKey).post("/api-keys", body);

    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, message: expect.any(String), error: "Bad Request" });
    expect([...new Set(res.body.errors.map((e: { field: string }) => e.field))]).toEqual(fields);
    for (const error of res.body.errors) expect(error.message).toEqual(expect.any(String));
  });

  it("names the offending value of an invalid scope", async () => {
    const res = await as(flxbl, flxbl.adminKey).post("/api-keys", {
      name: "k",
      scopes: ["entity:Order:read", "entity:Order:write"],
    });

    expect(res.body.errors).toEqual([
      { field: "scopes", message: expect.any(String), actualValue: "entity:Order:write" },
    ]);
  });

  it("does not store a key whose creation was refused", async () => {
    const admin = as(flxbl, flxbl.adminKey);
    const before = await admin.get("/api-keys");

    await admin.post("/api-keys", { name: "refused", scopes: ["nope"] });

    const after = await admin.get("/api-keys");
    expect(after.body).toEqual(before.body);
  });

  it.each([
    {
      route: "POST /api-keys",
      send: (a: ReturnType<typeof as>) => a.post("/api-keys", { name: "x", scopes: ["entity:*:*"] }),
    },
    { route: "GET /api-keys", send: (a: ReturnType<typeof as>) => a.get("/api-keys") },
    { route: "DELETE /api-keys/:id", send: (a: ReturnType<typeof as>) => a.delete("/api-keys/key_any") },
  ])("answers 403 to $route from a non-admin key, even one with full scopes", async ({ send }) => {
    const key = await keyWith(flxbl, ["entity:*:*", "relationship:*:*"]);

    const res = await send(as(flxbl, key));

    expect(res.status).toBe(403);
    expect(res.body).toEqual({ statusCode: 403, message: expect.any(String), error: "Forbidden" });
  });

  it("does not let a non-admin key revoke another key", async () => {
    const admin = as(flxbl, flxbl.adminKey);
    const victim = await admin.post("/api-keys", { name: "victim", scopes: ["entity:*:read"] });
    const attacker = await keyWith(flxbl, ["entity:*:*", "relationship:*:*"]);

    await as(flxbl, attacker).delete(`/api-keys/${victim.body.id}`);

    expect((await as(flxbl, victim.body.key).get("/dynamic/Order")).status).toBe(200);
  });
});

describe("scopes", () => {
  let flxbl: Emulator;
  beforeAll(async () => {
    flxbl = await startAppEmulator();
  });
  afterAll(() => flxbl.close());

  it.each(orderCalls)("answers 403 to $route for a key with every Order scope except $op", async ({ op, send }) => {
    const others = allOps.filter((o) => o !== op).map((o) => `entity:Order:${o}`);
    const key = await keyWith(flxbl, [...others, "relationship:*:*"]);

    const res = await send(flxbl, key);

    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      statusCode: 403,
      message: expect.stringContaining(`entity:Order:${op}`),
      error: "Forbidden",
    });
  });

  it.each(orderCalls)("lets $route through for a key with only entity:Order:$op", async ({ op, send }) => {
    const key = await keyWith(flxbl, [`entity:Order:${op}`]);

    const res = await send(flxbl, key);

    expect(succeeded(res.status)).toBe(true);
  });

  it.each(containsCalls)(
    "answers 403 to $route for a key with every other CONTAINS scope and full entity access",
    async ({ op, send }) => {
      const others = allOps.filter((o) => o !== op).map((o) => `relationship:CONTAINS:${o}`);
      const key = await keyWith(flxbl, [...others, "entity:*:*"]);

      const res = await send(flxbl, key);

      expect(res.status).toBe(403);
      expect(res.body.message).toContain(`relationship:CONTAINS:${op}`);
    },
  );

  it.each(containsCalls)("lets $route through for a key with only relationship:CONTAINS:$op", async ({ op, send }) => {
    const key = await keyWith(flxbl, [`relationship:CONTAINS:${op}`]);

    const res = await send(flxbl, key);

    expect(succeeded(res.status)).toBe(true);
  });

  it("checks the scope before looking the entity up: 403, not 404, for a key without it", async () => {
    const key = await keyWith(flxbl, ["entity:Order:read"]);

    const res = await as(flxbl, key).get("/dynamic/Nope");

    expect(res.status).toBe(403);
  });

  it("answers 404 to the admin for an unknown entity", async () => {
    const res = await as(flxbl, flxbl.adminKey).get("/dynamic/Nope");

    expect(res.status).toBe(404);
  });

  it("answers 404 to a key whose wildcard covers the unknown entity", async () => {
    const key = await keyWith(flxbl, ["entity:*:read"]);

    const res = await as(flxbl, key).get("/dynamic/Nope");

    expect(res.status).toBe(404);
  });

  it("checks the scope before looking the record up: 403, not 404, for an unknown id", async () => {
    const key = await keyWith(flxbl, ["entity:Order:read"]);

    const res = await as(flxbl, key).delete("/dynamic/Order/node_missing");

    expect(res.status).toBe(403);
  });
});

describe("wildcard scopes", () => {
  let flxbl: Emulator;
  beforeAll(async () => {
    flxbl = await startAppEmulator();
  });
  afterAll(() => flxbl.close());

  it.each(["Product", "Order", "StockAlert"])("entity:*:read lets a key list %s", async (entity) => {
    const key = await keyWith(flxbl, ["entity:*:read"]);

    const res = await as(flxbl, key).get(`/dynamic/${entity}`);

    expect(res.status).toBe(200);
  });

  it.each(orderCalls.filter((c) => c.op !== "read"))("entity:*:read does not grant $route", async ({ send }) => {
    const key = await keyWith(flxbl, ["entity:*:read"]);

    const res = await send(flxbl, key);

    expect(res.status).toBe(403);
  });

  it("entity:*:read does not grant reading relationships", async () => {
    const key = await keyWith(flxbl, ["entity:*:read"]);
    const { orderId } = await orderAndProduct(flxbl, true);

    const res = await as(flxbl, key).get(`/dynamic/Order/${orderId}/relationships/CONTAINS`);

    expect(res.status).toBe(403);
  });

  it.each(orderCalls)("entity:Order:* grants $route", async ({ send }) => {
    const key = await keyWith(flxbl, ["entity:Order:*"]);

    const res = await send(flxbl, key);

    expect(succeeded(res.status)).toBe(true);
  });

  it.each([
    { route: "GET /dynamic/Product", send: (a: ReturnType<typeof as>) => a.get("/dynamic/Product") },
    { route: "POST /dynamic/Product", send: (a: ReturnType<typeof as>) => a.post("/dynamic/Product", product()) },
    { route: "GET /dynamic/StockAlert", send: (a: ReturnType<typeof as>) => a.get("/dynamic/StockAlert") },
  ])("entity:Order:* does not grant $route", async ({ send }) => {
    const key = await keyWith(flxbl, ["entity:Order:*"]);

    const res = await send(as(flxbl, key));

    expect(res.status).toBe(403);
  });

  it.each([
    { entity: "Product", body: product() },
    { entity: "Order", body: order() },
    { entity: "StockAlert", body: { productId: "p", sku: "S", stock: 1, threshold: 2, status: "open" } },
  ])("entity:*:* lets a key create, read, update and delete $entity", async ({ entity, body }) => {
    const key = as(flxbl, await keyWith(flxbl, ["entity:*:*"]));

    const created = await key.post(`/dynamic/${entity}`, body);
    const read = await key.get(`/dynamic/${entity}/${created.body.id}`);
    const patched = await key.patch(`/dynamic/${entity}/${created.body.id}`, {});
    const removed = await key.delete(`/dynamic/${entity}/${created.body.id}`);

    expect([created.status, read.status, patched.status, removed.status]).toEqual([201, 200, 200, 204]);
  });

  it("entity:*:* does not grant creating relationships", async () => {
    const key = await keyWith(flxbl, ["entity:*:*"]);

    const res = await containsCalls[0]?.send(flxbl, key);

    expect(res?.status).toBe(403);
  });

  it.each(containsCalls)("relationship:*:* grants $route", async ({ send }) => {
    const key = await keyWith(flxbl, ["relationship:*:*"]);

    const res = await send(flxbl, key);

    expect(succeeded(res.status)).toBe(true);
  });

  it("relationship:*:* grants every relationship type", async () => {
    const key = await keyWith(flxbl, ["relationship:*:*"]);
    const productId = await newProduct(flxbl);
    const alert = await as(flxbl, flxbl.adminKey).post("/dynamic/StockAlert", {
      productId,
      sku: "SKU-1",
      stock: 1,
      threshold: 3,
      status: "open",
    });

    const res = await as(flxbl, key).post(`/dynamic/StockAlert/${alert.body.id}/relationships/ALERTS_ON`, {
      targetId: productId,
    });

    expect(res.status).toBe(201);
  });

  it("relationship:*:* grants no entity access", async () => {
    const key = await keyWith(flxbl, ["relationship:*:*"]);

    const res = await as(flxbl, key).get("/dynamic/Order");

    expect(res.status).toBe(403);
  });

  it("relationship:CONTAINS:* does not grant ALERTS_ON", async () => {
    const key = await keyWith(flxbl, ["relationship:CONTAINS:*"]);
    const productId = await newProduct(flxbl);
    const alert = await as(flxbl, flxbl.adminKey).post("/dynamic/StockAlert", {
      productId,
      sku: "SKU-1",
      stock: 1,
      threshold: 3,
      status: "open",
    });

    const res = await as(flxbl, key).get(`/dynamic/StockAlert/${alert.body.id}/relationships/ALERTS_ON`);

    expect(res.status).toBe(403);
  });
});

describe("covers", () => {
  it.each<[string[], "entity" | "relationship", string, Operation, boolean]>([
    [["entity:Order:read"], "entity", "Order", "read", true],
    [["entity:Order:read"], "entity", "Order", "create", false],
    [["entity:Order:read"], "entity", "Product", "read", false],
    [["entity:Order:read"], "relationship", "Order", "read", false],
    [["entity:order:read"], "entity", "Order", "read", false],
    [["entity:Order:read", "entity:Order:delete"], "entity", "Order", "delete", true],
    [["entity:*:read"], "entity", "Anything", "read", true],
    [["entity:*:read"], "entity", "Order", "update", false],
    [["entity:Order:*"], "entity", "Order", "delete", true],
    [["entity:Order:*"], "entity", "Product", "read", false],
    [["entity:*:*"], "entity", "Product", "create", true],
    [["entity:*:*"], "relationship", "CONTAINS", "read", false],
    [["relationship:*:*"], "relationship", "CONTAINS", "create", true],
    [["relationship:*:*"], "entity", "Order", "read", false],
    [["relationship:CONTAINS:*"], "relationship", "ALERTS_ON", "read", false],
    [["relationship:*:read"], "relationship", "ALERTS_ON", "read", true],
    [["relationship:*:read"], "relationship", "ALERTS_ON", "update", false],
    [[], "entity", "Order", "read", false],
    [["entity:Order:write"], "entity", "Order", "update", false],
    [["*:*:*"], "entity", "Order", "read", false],
    [["entity:Order:read "], "entity", "Order", "read", false],
  ])("covers(%j, %s, %s, %s) is %s", (scopes, kind, name, op, expected) => {
    expect(covers(scopes, kind, name, op)).toBe(expected);
  });
});

describe("isScope", () => {
  it.each<[unknown, boolean]>([
    ["entity:Order:read", true],
    ["entity:Order:create", true],
    ["entity:Order:update", true],
    ["entity:Order:delete", true],
    ["entity:Order:*", true],
    ["entity:*:read", true],
    ["entity:*:*", true],
    ["entity:Order_2:read", true],
    ["relationship:CONTAINS:delete", true],
    ["relationship:*:*", true],
    ["entity:Order", false],
    ["entity:Order:write", false],
    ["entity::read", false],
    ["entity:1Order:read", false],
    ["entity:Ord-er:read", false],
    ["entity:Order:read:more", false],
    ["Entity:Order:read", false],
    ["field:Order:read", false],
    ["*:*:*", false],
    [" entity:Order:read", false],
    ["", false],
    [42, false],
    [null, false],
  ])("isScope(%j) is %s", (value, expected) => {
    expect(isScope(value)).toBe(expected);
  });
});
