import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { startFaultProxy } from "@flxbl-lambda/aws-local";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from "vitest";
// The emulator is the FLXBL stand-in these integration tests run against; core does not ship with it.
import { defaultBehaviour, type Emulator, type EmulatorConfig } from "../../../emulator/src/index.js";
import { as, keyWith, startAppEmulator } from "../../../emulator/src/test-helpers.js";
import { FlxblAdmin, FlxblAdminError } from "../keys/admin.js";
import { type ApiKeySource, createFlxblClient, type FlxblClient, type FlxblClientOptions } from "./client.js";
import {
  FlxblAuthError,
  FlxblConflictError,
  FlxblForbiddenError,
  FlxblNetworkError,
  FlxblNotFoundError,
  FlxblRateLimitError,
  FlxblResponseError,
  FlxblScopeError,
  FlxblServerError,
  FlxblTimeoutError,
  FlxblValidationError,
} from "./errors.js";
import { resetPacers } from "./pacer.js";
import type { Edge, FlxblRecord } from "./types.js";

interface Order {
  number: string;
  status: "pending" | "paid" | "refunded" | "expired" | "cancelled";
  total: number;
  currency: string;
  customerEmail?: string;
  paymentReference?: string;
}

interface Product {
  sku: string;
  name: string;
  price: number;
  stock: number;
  lowStockThreshold: number;
  active: boolean;
}

interface Line {
  quantity: number;
  unitPrice?: number;
}

const anOrder = (overrides: Partial<Order> = {}): Order => ({
  number: "ORD-1",
  status: "pending",
  total: 1999,
  currency: "eur",
  ...overrides,
});

const aProduct = (overrides: Partial<Product> = {}): Product => ({
  sku: "SKU-1",
  name: "Widget",
  price: 9.5,
  stock: 10,
  lowStockThreshold: 3,
  active: true,
  ...overrides,
});

/** A client on `flxbl` with the admin key and short backoffs, so retries cost milliseconds. */
function clientFor(flxbl: Emulator, options: Partial<FlxblClientOptions> = {}): FlxblClient {
  return createFlxblClient({ baseUrl: flxbl.url, apiKey: flxbl.adminKey, retry: { baseDelayMs: 5 }, ...options });
}

/** Empties the emulator between tests: data, faults and stats by the reset endpoint, behaviour by hand. */
async function reset(flxbl: Emulator): Promise<void> {
  const res = await fetch(`${flxbl.origin}/_emulator/reset`, {
    method: "POST",
    headers: { authorization: `Bearer ${flxbl.adminKey}` },
  });
  if (res.status !== 204) throw new Error(`resetting the emulator answered ${res.status}`);
  // The reset endpoint keeps behaviour options (and the rate limit) as they were.
  flxbl.configure({ behaviour: defaultBehaviour, rateLimit: null });
  // And the container's rate controllers forget what the last test's 429s taught them.
  resetPacers();
}

/** One emulator for the enclosing describe, reset before each of its tests. */
function useEmulator(): () => Emulator {
  let flxbl: Emulator | undefined;
  const current = () => {
    if (!flxbl) throw new Error("the emulator has not started");
    return flxbl;
  };
  beforeAll(async () => {
    flxbl = await startAppEmulator();
  });
  afterAll(() => flxbl?.close());
  beforeEach(() => reset(current()));
  return current;
}

/** An emulator of its own for one test (for latency faults, whose late answers would leak into the next test's stats). */
async function ownEmulator(config: Partial<EmulatorConfig> = {}): Promise<Emulator> {
  const flxbl = await startAppEmulator(config);
  onTestFinished(() => flxbl.close());
  return flxbl;
}

/** A URL nothing listens on: an emulator's, after it closed. */
async function closedUrl(): Promise<string> {
  const flxbl = await startAppEmulator();
  const { url } = flxbl;
  await flxbl.close();
  return url;
}

/** What `call` rejected with, asserted to be a `type`. */
async function rejectionOf<E extends Error>(call: Promise<unknown>, type: abstract new (...args: any[]) => E) {
  const error = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(type);
  return error as E;
}

/** A fetch that records each request's method and URL, then sends it with the real fetch. */
function recordingFetch(): { fetch: typeof fetch; calls: Array<{ method: string; url: string }> } {
  const calls: Array<{ method: string; url: string }> = [];
  const recording: typeof fetch = (input, init) => {
    calls.push({ method: init?.method ?? "GET", url: String(input) });
    return globalThis.fetch(input, init);
  };
  return { fetch: recording, calls };
}

async function createOrder(flxbl: Emulator, overrides: Partial<Order> = {}): Promise<FlxblRecord<Order>> {
  const res = await as(flxbl, flxbl.adminKey).post<FlxblRecord<Order>>("/dynamic/Order", anOrder(overrides));
  if (res.status !== 201) throw new Error(`creating an order answered ${res.status}`);
  return res.body;
}

async function createProduct(flxbl: Emulator, overrides: Partial<Product> = {}): Promise<FlxblRecord<Product>> {
  const res = await as(flxbl, flxbl.adminKey).post<FlxblRecord<Product>>("/dynamic/Product", aProduct(overrides));
  if (res.status !== 201) throw new Error(`creating a product answered ${res.status}`);
  return res.body;
}

async function storedOrders(flxbl: Emulator): Promise<FlxblRecord<Order>[]> {
  const res = await as(flxbl, flxbl.adminKey).get<{ data: FlxblRecord<Order>[] }>("/dynamic/Order?limit=1000");
  return res.body.data;
}

async function storedEdges(flxbl: Emulator, orderId: string): Promise<Array<{ relationship: { properties: Line } }>> {
  const res = await as(flxbl, flxbl.adminKey).get(`/dynamic/Order/${orderId}/relationships/CONTAINS`);
  return res.body;
}

/** Creates a full-access key, revokes it and returns it: FLXBL answers it with 401. */
async function revokedKey(flxbl: Emulator): Promise<string> {
  const admin = as(flxbl, flxbl.adminKey);
  const created = await admin.post<{ id: string; key: string }>("/api-keys", {
    name: "revoked",
    scopes: ["entity:*:*"],
  });
  const revoked = await admin.delete(`/api-keys/${created.body.id}`);
  if (revoked.status !== 204) throw new Error(`revoking a key answered ${revoked.status}`);
  return created.body.key;
}

const unknownKey = `flxbl_Unknown1_${"x".repeat(32)}`;

describe("FlxblClient endpoints", () => {
  const emulator = useEmulator();

  it("lists one page of records with the envelope's total", async () => {
    const flxbl = emulator();
    for (const sku of ["SKU-3", "SKU-1", "SKU-2"]) await createProduct(flxbl, { sku });

    const page = await clientFor(flxbl)
      .entity<Product>("Product")
      .list({ orderBy: "sku", orderDirection: "ASC", limit: 2, offset: 1 });

    expect(page.data.map((p) => p.sku)).toEqual(["SKU-2", "SKU-3"]);
    expect(page.total).toBe(3);
  });

  it("lists a bare-array answer with an undefined total", async () => {
    const flxbl = emulator();
    flxbl.configure({ behaviour: { listShape: "array" } });
    for (const sku of ["SKU-3", "SKU-1", "SKU-2"]) await createProduct(flxbl, { sku });

    const page = await clientFor(flxbl).entity<Product>("Product").list({ orderBy: "sku", orderDirection: "DESC" });

    expect(page.data.map((p) => p.sku)).toEqual(["SKU-3", "SKU-2", "SKU-1"]);
    expect(page.total).toBeUndefined();
  });

  it("gets a record by id", async () => {
    const flxbl = emulator();
    const stored = await createOrder(flxbl);

    const read = await clientFor(flxbl).entity<Order>("Order").get(stored.id);

    expect(read).toEqual(stored);
  });

  it("finds an existing record by id", async () => {
    const flxbl = emulator();
    const stored = await createOrder(flxbl);

    const found = await clientFor(flxbl).entity<Order>("Order").find(stored.id);

    expect(found).toEqual(stored);
  });

  it("finds undefined for an id that does not exist", async () => {
    const flxbl = emulator();

    const found = await clientFor(flxbl).entity<Order>("Order").find("node_missing");

    expect(found).toBeUndefined();
    expect(flxbl.stats().statuses).toEqual({ 404: 1 });
  });

  it.each([201, 200] as const)("creates a record and returns it when FLXBL answers %i", async (createStatus) => {
    const flxbl = emulator();
    flxbl.configure({ behaviour: { createStatus } });

    const created = await clientFor(flxbl)
      .entity<Order>("Order")
      .create(anOrder({ number: "A-7" }));

    expect(created).toMatchObject({ ...anOrder({ number: "A-7" }), id: expect.stringMatching(/^node_/) });
    expect(await storedOrders(flxbl)).toEqual([created]);
  });

  it("replaces a record with PUT, clearing the fields not sent", async () => {
    const flxbl = emulator();
    const stored = await createOrder(flxbl, { customerEmail: "a@example.com" });

    const replaced = await clientFor(flxbl)
      .entity<Order>("Order")
      .replace(stored.id, anOrder({ status: "paid" }));

    expect(replaced).toMatchObject({ id: stored.id, status: "paid" });
    expect(replaced).not.toHaveProperty("customerEmail");
    expect(flxbl.stats().routes).toEqual({ "POST /dynamic/Order": 1, "PUT /dynamic/Order/:id": 1 });
  });

  it("updates a record with PATCH, keeping the fields not sent", async () => {
    const flxbl = emulator();
    const stored = await createOrder(flxbl, { customerEmail: "a@example.com" });

    const updated = await clientFor(flxbl).entity<Order>("Order").update(stored.id, { status: "paid" });

    expect(updated).toMatchObject({ id: stored.id, status: "paid", customerEmail: "a@example.com" });
    expect(flxbl.stats().routes).toEqual({ "POST /dynamic/Order": 1, "PATCH /dynamic/Order/:id": 1 });
  });

  it.each([204, 200] as const)("deletes a record when FLXBL answers %i", async (deleteStatus) => {
    const flxbl = emulator();
    flxbl.configure({ behaviour: { deleteStatus } });
    const stored = await createOrder(flxbl);

    const result = await clientFor(flxbl).entity<Order>("Order").delete(stored.id);

    expect(result).toBeUndefined();
    expect(await storedOrders(flxbl)).toEqual([]);
  });

  it("queries with where, orderBy, limit and offset", async () => {
    const flxbl = emulator();
    const rows: Array<[string, Order["status"], number]> = [
      ["A-1", "pending", 100],
      ["A-2", "paid", 200],
      ["A-3", "pending", 300],
      ["A-4", "pending", 400],
      ["A-5", "pending", 500],
    ];
    for (const [number, status, total] of rows) await createOrder(flxbl, { number, status, total });

    const found = await clientFor(flxbl)
      .entity<Order>("Order")
      .query({
        where: { status: "pending", total: { $gte: 200 } },
        orderBy: "total",
        orderDirection: "DESC",
        limit: 2,
        offset: 1,
      });

    expect(found.map((o) => o.number)).toEqual(["A-4", "A-3"]);
  });

  it("queries one page with the count of all matches", async () => {
    const flxbl = emulator();
    for (const [number, status] of [
      ["A-1", "pending"],
      ["A-2", "paid"],
      ["A-3", "pending"],
      ["A-4", "pending"],
    ] as const)
      await createOrder(flxbl, { number, status });

    const page = await clientFor(flxbl)
      .entity<Order>("Order")
      .queryWithCount({ where: { status: "pending" }, orderBy: "number", orderDirection: "ASC", limit: 2 });

    expect(page.data.map((o) => o.number)).toEqual(["A-1", "A-3"]);
    expect(page.totalCount).toBe(3);
  });

  it("iterates all 250 matches in three queries of 100", async () => {
    const flxbl = emulator();
    for (let i = 0; i < 250; i++) await createOrder(flxbl, { number: `N-${String(i).padStart(3, "0")}` });
    flxbl.resetStats();

    const seen: string[] = [];
    for await (const o of clientFor(flxbl).entity<Order>("Order").queryAll({ orderBy: "number", pageSize: 100 }))
      seen.push(o.number);

    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => `N-${String(i).padStart(3, "0")}`));
    expect(flxbl.stats().routes).toEqual({ "POST /dynamic/Order/query": 3 });
  });

  it("iterates every match when FLXBL caps pages below the asked page size", async () => {
    const flxbl = await ownEmulator({ behaviour: { maxLimit: 50 } });
    for (let i = 0; i < 120; i++) await createOrder(flxbl, { number: `C-${String(i).padStart(3, "0")}` });
    flxbl.resetStats();

    const seen: string[] = [];
    for await (const o of clientFor(flxbl).entity<Order>("Order").queryAll({ orderBy: "number", pageSize: 100 }))
      seen.push(o.number);

    expect(seen).toEqual(Array.from({ length: 120 }, (_, i) => `C-${String(i).padStart(3, "0")}`));
    expect(flxbl.stats().routes).toEqual({ "POST /dynamic/Order/query": 3 });
  });

  it("links a record to another with edge properties", async () => {
    const flxbl = emulator();
    const order = await createOrder(flxbl);
    const product = await createProduct(flxbl);

    await clientFor(flxbl)
      .entity<Order>("Order")
      .relationship<Product, Line>("CONTAINS")
      .link(order.id, product.id, { quantity: 2 });

    expect((await storedEdges(flxbl, order.id)).map((e) => e.relationship.properties)).toEqual([{ quantity: 2 }]);
  });

  it.each([
    { edgeListShape: "relationship-target" as const, total: undefined },
    { edgeListShape: "items-count" as const, total: 1 },
  ])("lists edges answered as $edgeListShape in the same normalised shape", async ({ edgeListShape, total }) => {
    const flxbl = emulator();
    flxbl.configure({ behaviour: { edgeListShape } });
    const order = await createOrder(flxbl);
    const product = await createProduct(flxbl);
    await as(flxbl, flxbl.adminKey).post(`/dynamic/Order/${order.id}/relationships/CONTAINS`, {
      targetId: product.id,
      properties: { quantity: 2 },
    });

    const listed = await clientFor(flxbl).entity<Order>("Order").relationship<Product, Line>("CONTAINS").list(order.id);

    const expected: Edge<Product, Line>[] = [
      { type: "CONTAINS", direction: "out", properties: { quantity: 2 }, target: product },
    ];
    expect(listed).toEqual({ edges: expected, total });
  });

  it("updates an edge's properties", async () => {
    const flxbl = emulator();
    const order = await createOrder(flxbl);
    const product = await createProduct(flxbl);
    const contains = clientFor(flxbl).entity<Order>("Order").relationship<Product, Line>("CONTAINS");
    await contains.link(order.id, product.id, { quantity: 2 });

    await contains.update(order.id, product.id, { unitPrice: 8.5 });

    expect((await storedEdges(flxbl, order.id)).map((e) => e.relationship.properties)).toEqual([
      { quantity: 2, unitPrice: 8.5 },
    ]);
  });

  it("unlinks an edge", async () => {
    const flxbl = emulator();
    const order = await createOrder(flxbl);
    const product = await createProduct(flxbl);
    const contains = clientFor(flxbl).entity<Order>("Order").relationship<Product, Line>("CONTAINS");
    await contains.link(order.id, product.id, { quantity: 2 });

    await contains.unlink(order.id, product.id);

    expect(await storedEdges(flxbl, order.id)).toEqual([]);
  });
});

describe("FlxblClient errors", () => {
  const emulator = useEmulator();

  it("throws FlxblAuthError for a key FLXBL does not know", async () => {
    const flxbl = emulator();

    const error = await rejectionOf(
      clientFor(flxbl, { apiKey: unknownKey }).entity<Order>("Order").list(),
      FlxblAuthError,
    );

    expect(error).toMatchObject({
      method: "GET",
      path: "/dynamic/Order",
      status: 401,
      flxblMessage: "Invalid or revoked API key",
    });
    expect(error.message).toContain("GET /dynamic/Order 401");
  });

  it("throws FlxblForbiddenError when the key lacks the scope and the client has no guard", async () => {
    const flxbl = emulator();
    const key = await keyWith(flxbl, ["entity:Product:read"]);

    const error = await rejectionOf(
      clientFor(flxbl, { apiKey: key }).entity<Order>("Order").update("node_x", { status: "paid" }),
      FlxblForbiddenError,
    );

    expect(error).toMatchObject({
      method: "PATCH",
      path: "/dynamic/Order/node_x",
      status: 403,
      flxblMessage: "Missing scope entity:Order:update",
    });
  });

  it("throws FlxblNotFoundError for a record that does not exist", async () => {
    const flxbl = emulator();

    const error = await rejectionOf(clientFor(flxbl).entity<Order>("Order").get("node_missing"), FlxblNotFoundError);

    expect(error).toMatchObject({
      method: "GET",
      path: "/dynamic/Order/node_missing",
      status: 404,
      flxblMessage: "Entity not found",
    });
  });

  it.each([
    { validationStatus: 422 as const, errorMessageShape: "string" as const },
    { validationStatus: 400 as const, errorMessageShape: "string" as const },
    { validationStatus: 422 as const, errorMessageShape: "array" as const },
  ])(
    "throws FlxblValidationError with fieldErrors for a $validationStatus with message shape $errorMessageShape",
    async (behaviour) => {
      const flxbl = emulator();
      flxbl.configure({ behaviour });

      const error = await rejectionOf(
        clientFor(flxbl)
          .entity<Order>("Order")
          .create({ ...anOrder(), status: "shipped", total: "12" } as unknown as Order),
        FlxblValidationError,
      );

      expect(error).toMatchObject({
        method: "POST",
        path: "/dynamic/Order",
        status: behaviour.validationStatus,
        flxblMessage: "Validation failed",
      });
      expect(error.fieldErrors.map((e) => e.field).sort()).toEqual(["status", "total"]);
      expect(error.fieldErrors.find((e) => e.field === "total")).toMatchObject({
        expectedType: "NUMBER",
        actualValue: "12",
      });
    },
  );

  it("throws FlxblConflictError when a unique field would be duplicated", async () => {
    const flxbl = emulator();
    flxbl.configure({ behaviour: { uniqueFields: { Order: ["number"] } } });
    await createOrder(flxbl, { number: "A-1" });

    const error = await rejectionOf(
      clientFor(flxbl)
        .entity<Order>("Order")
        .create(anOrder({ number: "A-1" })),
      FlxblConflictError,
    );

    expect(error).toMatchObject({
      method: "POST",
      path: "/dynamic/Order",
      status: 409,
      flxblMessage: 'Order.number must be unique: "A-1" exists',
    });
  });

  it("throws FlxblRateLimitError with Retry-After once the retries are spent", async () => {
    const flxbl = emulator();
    flxbl.configure({ faults: { rateLimitBurst: 5, rateLimitBurstRetryAfter: 1 } });

    const error = await rejectionOf(
      clientFor(flxbl, { retry: { attempts: 1 } })
        .entity<Order>("Order")
        .list(),
      FlxblRateLimitError,
    );

    expect(error).toMatchObject({
      method: "GET",
      path: "/dynamic/Order",
      status: 429,
      flxblMessage: "ThrottlerException: Too Many Requests",
      retryAfterMs: 1000,
    });
  });

  it("throws FlxblServerError for a 5xx once the retries are spent", async () => {
    const flxbl = emulator();
    flxbl.configure({ faults: { errorBurst: 5, errorStatus: 500 } });

    const error = await rejectionOf(
      clientFor(flxbl, { retry: { attempts: 1 } })
        .entity<Order>("Order")
        .get("node_x"),
      FlxblServerError,
    );

    expect(error).toMatchObject({
      method: "GET",
      path: "/dynamic/Order/node_x",
      status: 500,
      flxblMessage: "Injected fault",
    });
  });

  it("throws FlxblNetworkError, outcome known, when nothing listens", async () => {
    const baseUrl = await closedUrl();

    const error = await rejectionOf(
      createFlxblClient({ baseUrl, apiKey: unknownKey, retry: { attempts: 2, baseDelayMs: 5 } })
        .entity<Order>("Order")
        .list(),
      FlxblNetworkError,
    );

    expect(error).toMatchObject({ method: "GET", path: "/dynamic/Order", status: undefined, outcomeUnknown: false });
    expect(error.message).toContain("ECONNREFUSED");
  });

  it("throws FlxblTimeoutError when an attempt gets no answer in time", async () => {
    const flxbl = await ownEmulator({ faults: { latencyMs: 2_000 } });
    const started = performance.now();

    const error = await rejectionOf(
      clientFor(flxbl, { attemptTimeoutMs: 100, retry: { attempts: 1 } })
        .entity<Order>("Order")
        .get("node_x"),
      FlxblTimeoutError,
    );

    expect(error).toMatchObject({ method: "GET", path: "/dynamic/Order/node_x", status: undefined });
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  /** A failure provoked with `key`: `act` makes the call once the test is ready to catch it. */
  type Failure = { key: string; act: () => Promise<unknown> };
  it.each<{ type: abstract new (...args: any[]) => Error; arrange: (flxbl: Emulator) => Promise<Failure> }>([
    {
      type: FlxblAuthError,
      arrange: async (flxbl) => {
        const key = unknownKey;
        return { key, act: () => clientFor(flxbl, { apiKey: key }).entity<Order>("Order").get("node_x") };
      },
    },
    {
      type: FlxblForbiddenError,
      arrange: async (flxbl) => {
        const key = await keyWith(flxbl, ["entity:Product:read"]);
        return { key, act: () => clientFor(flxbl, { apiKey: key }).entity<Order>("Order").get("node_x") };
      },
    },
    {
      type: FlxblValidationError,
      arrange: async (flxbl) => {
        const key = await keyWith(flxbl, ["entity:Order:*"]);
        const invalid = { ...anOrder(), total: "12" } as unknown as Order;
        return { key, act: () => clientFor(flxbl, { apiKey: key }).entity<Order>("Order").create(invalid) };
      },
    },
    {
      type: FlxblNetworkError,
      arrange: async (flxbl) => {
        const key = await keyWith(flxbl, ["entity:Order:*"]);
        const baseUrl = await closedUrl();
        const client = createFlxblClient({ baseUrl, apiKey: key, retry: { attempts: 1 } });
        return { key, act: () => client.entity<Order>("Order").list() };
      },
    },
  ])("keeps the API key out of a $type.name's message, JSON and inspection", async ({ type, arrange }) => {
    const { key, act } = await arrange(emulator());

    const error = await rejectionOf(act(), type);

    // Booleans, not toContain: a failing assertion would print the key.
    expect(error.message.includes(key)).toBe(false);
    expect(JSON.stringify(error).includes(key)).toBe(false);
    expect(inspect(error, { depth: 5 }).includes(key)).toBe(false);
  });
});

describe("FlxblClient retries", () => {
  const emulator = useEmulator();

  it("retries a 429 no sooner than its Retry-After and then succeeds", async () => {
    const flxbl = emulator();
    flxbl.configure({ faults: { rateLimitBurst: 2, rateLimitBurstRetryAfter: 1 } });
    const started = performance.now();

    const page = await clientFor(flxbl).entity<Order>("Order").list();

    // Two 429s, each with Retry-After: 1, while the backoff alone would wait under 15 ms.
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_950);
    expect(page.data).toEqual([]);
    expect(flxbl.stats().statuses).toEqual({ 200: 1, 429: 2 });
  });

  it("retries a 429 without Retry-After after its own backoff and then succeeds", async () => {
    const flxbl = emulator();
    flxbl.configure({ behaviour: { retryAfterHeader: false }, faults: { rateLimitBurst: 2 } });
    const started = performance.now();

    const page = await clientFor(flxbl).entity<Order>("Order").list();

    expect(page.data).toEqual([]);
    expect(flxbl.stats().statuses).toEqual({ 200: 1, 429: 2 });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("retries a read answered 503 and then succeeds", async () => {
    const flxbl = emulator();
    const stored = await createOrder(flxbl);
    flxbl.resetStats();
    flxbl.configure({ faults: { errorBurst: 2, errorStatus: 503 } });

    const read = await clientFor(flxbl).entity<Order>("Order").get(stored.id);

    expect(read).toEqual(stored);
    expect(flxbl.stats().routes).toEqual({ "GET /dynamic/Order/:id": 3 });
  });

  it("does not resend a create whose response was lost", async () => {
    const flxbl = emulator();
    flxbl.configure({ faults: { dropResponseAfterWrite: 1 } });

    const error = await rejectionOf(clientFor(flxbl).entity<Order>("Order").create(anOrder()), FlxblNetworkError);

    expect(error.outcomeUnknown).toBe(true);
    expect(flxbl.stats().routes).toEqual({ "POST /dynamic/Order": 1 });
    expect(await storedOrders(flxbl)).toHaveLength(1);
  });

  it("resends an update whose response was lost", async () => {
    const flxbl = emulator();
    const stored = await createOrder(flxbl);
    flxbl.resetStats();
    flxbl.configure({ faults: { dropResponseAfterWrite: 1 } });

    const updated = await clientFor(flxbl).entity<Order>("Order").update(stored.id, { status: "paid" });

    expect(updated.status).toBe("paid");
    expect(flxbl.stats().routes).toEqual({ "PATCH /dynamic/Order/:id": 2 });
  });

  it("resends a create answered 429, which FLXBL did not apply", async () => {
    const flxbl = emulator();
    flxbl.configure({ faults: { rateLimitBurst: 1, rateLimitBurstRetryAfter: 0 } });

    const created = await clientFor(flxbl).entity<Order>("Order").create(anOrder());

    expect(flxbl.stats().routes).toEqual({ "POST /dynamic/Order": 2 });
    expect(await storedOrders(flxbl)).toEqual([created]);
  });

  it("does not resend a create answered 503", async () => {
    const flxbl = emulator();
    flxbl.configure({ faults: { errorBurst: 1, errorStatus: 503 } });

    await rejectionOf(clientFor(flxbl).entity<Order>("Order").create(anOrder()), FlxblServerError);

    expect(flxbl.stats().routes).toEqual({ "POST /dynamic/Order": 1 });
  });

  it("resends a create whose connection was refused, which never reached FLXBL", async () => {
    const baseUrl = await closedUrl();
    const { fetch, calls } = recordingFetch();

    await rejectionOf(
      createFlxblClient({ baseUrl, apiKey: unknownKey, fetch, retry: { attempts: 3, baseDelayMs: 5 } })
        .entity<Order>("Order")
        .create(anOrder()),
      FlxblNetworkError,
    );

    expect(calls.map((c) => c.method)).toEqual(["POST", "POST", "POST"]);
  });

  it("stops retrying with FlxblTimeoutError when the next Retry-After would pass the deadline", async () => {
    const flxbl = emulator();
    flxbl.configure({ faults: { rateLimitBurst: 100, rateLimitBurstRetryAfter: 1 } });
    const started = performance.now();
    const client = clientFor(flxbl, {
      deadline: Date.now() + 1_500,
      safetyMarginMs: 200,
      retry: { attempts: 10, baseDelayMs: 5 },
    });

    const error = await rejectionOf(client.entity<Order>("Order").list(), FlxblTimeoutError);

    expect(error.cause).toBeInstanceOf(FlxblRateLimitError);
    // Ten attempts a second apart would take nine seconds; one sleep past the cutoff, two.
    expect(performance.now() - started).toBeLessThan(1_900);
  });

  it("sends nothing when the deadline has passed", async () => {
    const flxbl = emulator();

    await rejectionOf(
      clientFor(flxbl, { deadline: Date.now() - 1 })
        .entity<Order>("Order")
        .list(),
      FlxblTimeoutError,
    );

    expect(flxbl.stats().total).toBe(0);
  });

  it("aborts a slow call when the caller's signal fires", async () => {
    const flxbl = await ownEmulator({ faults: { latencyMs: 2_000 } });
    const started = performance.now();

    const error = await rejectionOf(
      clientFor(flxbl)
        .entity<Order>("Order")
        .list({}, { signal: AbortSignal.timeout(100) }),
      FlxblTimeoutError,
    );

    expect(error.message).toContain("aborted by the caller");
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it("aborts a slow call when the signal bound to the client fires", async () => {
    const flxbl = await ownEmulator({ faults: { latencyMs: 2_000 } });
    const started = performance.now();

    const error = await rejectionOf(
      clientFor(flxbl)
        .bind({ signal: AbortSignal.timeout(100) })
        .entity<Order>("Order")
        .list(),
      FlxblTimeoutError,
    );

    expect(error.message).toContain("aborted by the caller");
    expect(performance.now() - started).toBeLessThan(1_500);
  });
});

describe("FlxblClient key refresh on 401", () => {
  const emulator = useEmulator();

  /** A key source holding `initial` whose refresh answers `next` and counts its calls. */
  function keySource(initial: string, next: string) {
    let current = initial;
    const refreshes: Array<{ rejectedWasCurrent: boolean }> = [];
    const source: ApiKeySource = {
      get: async () => current,
      refresh: async (rejected) => {
        refreshes.push({ rejectedWasCurrent: rejected === current });
        current = next;
        return current;
      },
    };
    return { source, refreshes };
  }

  it("refreshes a revoked key once and succeeds with the new one", async () => {
    const flxbl = emulator();
    const revoked = await revokedKey(flxbl);
    const fresh = await keyWith(flxbl, ["entity:Order:read"]);
    flxbl.resetStats();
    const { source, refreshes } = keySource(revoked, fresh);

    const page = await clientFor(flxbl, { apiKey: source }).entity<Order>("Order").list();

    expect(page.data).toEqual([]);
    expect(refreshes).toEqual([{ rejectedWasCurrent: true }]);
    expect(flxbl.stats().statuses).toEqual({ 200: 1, 401: 1 });
  });

  it("throws FlxblAuthError after one refresh that returns the same key", async () => {
    const flxbl = emulator();
    const revoked = await revokedKey(flxbl);
    flxbl.resetStats();
    const { source, refreshes } = keySource(revoked, revoked);

    await rejectionOf(clientFor(flxbl, { apiKey: source }).entity<Order>("Order").list(), FlxblAuthError);

    expect(refreshes).toHaveLength(1);
    expect(flxbl.stats().statuses).toEqual({ 401: 1 });
  });

  it("retries with the key refresh returned, even when the source's get still lags behind", async () => {
    const flxbl = emulator();
    const revoked = await revokedKey(flxbl);
    const fresh = await keyWith(flxbl, ["entity:Order:read"]);
    flxbl.resetStats();
    const lagging: ApiKeySource = { get: async () => revoked, refresh: async () => fresh };

    const page = await clientFor(flxbl, { apiKey: lagging }).entity<Order>("Order").list();

    expect(page.data).toEqual([]);
    expect(flxbl.stats().statuses).toEqual({ 200: 1, 401: 1 });
  });

  it("throws FlxblAuthError without a second refresh when the refreshed key is refused too", async () => {
    const flxbl = emulator();
    const revoked = await revokedKey(flxbl);
    flxbl.resetStats();
    const { source, refreshes } = keySource(revoked, unknownKey);

    await rejectionOf(clientFor(flxbl, { apiKey: source }).entity<Order>("Order").list(), FlxblAuthError);

    expect(refreshes).toHaveLength(1);
    expect(flxbl.stats().statuses).toEqual({ 401: 2 });
  });
});

describe("FlxblClient scope guard", () => {
  const emulator = useEmulator();

  it("refuses an update outside the declared scopes without sending it", async () => {
    const flxbl = emulator();
    const orders = clientFor(flxbl, { scopes: ["entity:Order:read"] }).entity<Order>("Order");

    const error = await rejectionOf(orders.update("node_x", { status: "paid" }), FlxblScopeError);

    expect(error).toMatchObject({
      missingScope: "entity:Order:update",
      method: "PATCH",
      path: "/dynamic/Order/node_x",
    });
    expect(flxbl.stats().total).toBe(0);
  });

  it("refuses a relationship call outside the declared scopes without sending it", async () => {
    const flxbl = emulator();
    const contains = clientFor(flxbl, { scopes: ["entity:Order:read"] })
      .entity<Order>("Order")
      .relationship<Product, Line>("CONTAINS");

    const error = await rejectionOf(contains.update("node_o", "node_p", { quantity: 3 }), FlxblScopeError);

    expect(error.missingScope).toBe("relationship:CONTAINS:update");
    expect(flxbl.stats().total).toBe(0);
  });

  it("sends a call its declared scope grants", async () => {
    const flxbl = emulator();

    await clientFor(flxbl, { scopes: ["entity:Order:read"] })
      .entity<Order>("Order")
      .query({ where: { status: "paid" } });

    expect(flxbl.stats().routes).toEqual({ "POST /dynamic/Order/query": 1 });
  });

  it.each([
    { scope: "entity:*:read", call: "reads an Order", status: 200 },
    { scope: "entity:Order:*", call: "updates an Order", status: 200 },
    { scope: "entity:*:*", call: "deletes an Order", status: 204 },
    { scope: "relationship:*:*", call: "links an Order to a Product", status: 201 },
    { scope: "relationship:CONTAINS:*", call: "links an Order to a Product", status: 201 },
  ])("lets $scope through when it $call", async ({ scope, call, status }) => {
    const flxbl = emulator();
    const order = await createOrder(flxbl);
    const product = await createProduct(flxbl);
    const orders = clientFor(flxbl, { scopes: [scope] }).entity<Order>("Order");
    const calls: Record<string, () => Promise<unknown>> = {
      "reads an Order": () => orders.get(order.id),
      "updates an Order": () => orders.update(order.id, { status: "paid" }),
      "deletes an Order": () => orders.delete(order.id),
      "links an Order to a Product": () =>
        orders.relationship<Product, Line>("CONTAINS").link(order.id, product.id, { quantity: 1 }),
    };
    const act = calls[call];
    if (!act) throw new Error(`no call named ${call}`);
    flxbl.resetStats();

    await act();

    expect(flxbl.stats().statuses).toEqual({ [status]: 1 });
  });

  it.each([
    { scope: "entity:Product:*", missingScope: "entity:Order:read" },
    { scope: "entity:*:update", missingScope: "entity:Order:read" },
    { scope: "relationship:*:*", missingScope: "entity:Order:read" },
  ])("refuses a read of an Order under $scope", async ({ scope, missingScope }) => {
    const flxbl = emulator();

    const error = await rejectionOf(
      clientFor(flxbl, { scopes: [scope] })
        .entity<Order>("Order")
        .get("node_x"),
      FlxblScopeError,
    );

    expect(error.missingScope).toBe(missingScope);
    expect(flxbl.stats().total).toBe(0);
  });

  it("refuses a relationship call under entity:*:*", async () => {
    const flxbl = emulator();

    const error = await rejectionOf(
      clientFor(flxbl, { scopes: ["entity:*:*"] })
        .entity<Order>("Order")
        .relationship<Product, Line>("CONTAINS")
        .link("node_o", "node_p", { quantity: 1 }),
      FlxblScopeError,
    );

    expect(error.missingScope).toBe("relationship:CONTAINS:create");
    expect(flxbl.stats().total).toBe(0);
  });
});

describe("FlxblClient transport", () => {
  const emulator = useEmulator();

  it("sends every request through the injected fetch", async () => {
    const flxbl = emulator();
    const { fetch, calls } = recordingFetch();
    const orders = clientFor(flxbl, { fetch }).entity<Order>("Order");

    const created = await orders.create(anOrder());
    await orders.get(created.id);

    expect(calls).toEqual([
      { method: "POST", url: `${flxbl.url}/dynamic/Order` },
      { method: "GET", url: `${flxbl.url}/dynamic/Order/${created.id}` },
    ]);
  });

  it("sends each attempt of a retried call through the injected fetch", async () => {
    const flxbl = emulator();
    flxbl.configure({ faults: { errorBurst: 2 } });
    const { fetch, calls } = recordingFetch();

    await clientFor(flxbl, { fetch }).entity<Order>("Order").list();

    expect(calls).toHaveLength(3);
    expect(flxbl.stats().total).toBe(3);
  });

  it("tells the caller when a write's attempt went unanswered, even though its retry succeeded; never for a read", async () => {
    const flxbl = emulator();
    const created = await clientFor(flxbl).entity<Order>("Order").create(anOrder());
    const proxy = await startFaultProxy(flxbl.origin);
    onTestFinished(() => proxy.close());
    const held: Record<string, number> = {};
    // The first PATCH and the first GET reach FLXBL after the client stopped waiting for them.
    proxy.delay((req) => {
      const method = req.method ?? "";
      held[method] = (held[method] ?? 0) + 1;
      return (method === "PATCH" || method === "GET") && held[method] === 1;
    }, 400);
    const orders = createFlxblClient({
      baseUrl: flxbl.url.replace(flxbl.origin, proxy.url),
      apiKey: flxbl.adminKey,
      attemptTimeoutMs: 150,
      retry: { baseDelayMs: 5 },
    }).entity<Order>("Order");
    const unknown = { write: 0, read: 0 };

    await orders.update(created.id, { status: "paid" }, { onUnknownOutcome: () => unknown.write++ });
    await orders.get(created.id, { onUnknownOutcome: () => unknown.read++ });

    expect(unknown).toEqual({ write: 1, read: 0 });
  });

  it("encodes list paging and ordering as query parameters", async () => {
    const flxbl = emulator();
    const { fetch, calls } = recordingFetch();

    await clientFor(flxbl, { fetch })
      .entity<Order>("Order")
      .list({ limit: 5, offset: 10, orderBy: "number", orderDirection: "DESC" });

    expect(calls.map((c) => c.url)).toEqual([
      `${flxbl.url}/dynamic/Order?limit=5&offset=10&orderBy=number&orderDirection=DESC`,
    ]);
  });
});

describe("FlxblClient and FlxblAdmin on a redirect", () => {
  /** A server that redirects every request to a second one, which records what reaches it. */
  async function redirecting(status: number) {
    const reached: Array<{ url: string; authorization: string | undefined }> = [];
    const elsewhere = createServer((req, res) => {
      reached.push({ url: req.url ?? "", authorization: req.headers.authorization });
      res.writeHead(200, { "content-type": "application/json" }).end("[]");
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, "127.0.0.1", () => resolve()));
    const target = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
    const redirector = createServer((req, res) => {
      res.writeHead(status, { location: `${target}${req.url}` }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", () => resolve()));
    onTestFinished(async () => {
      await new Promise((r) => elsewhere.close(r));
      await new Promise((r) => redirector.close(r));
    });
    return { baseUrl: `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/api/v1`, reached };
  }

  it.each([301, 302, 307, 308])("does not follow a %i with the API key, and says why", async (status) => {
    const { baseUrl, reached } = await redirecting(status);
    const key = "flxbl_TESTtest_notarealkeynotarealkey00";

    const error = await createFlxblClient({ baseUrl, apiKey: key, retry: { attempts: 1 } })
      .entity<Order>("Order")
      .get("node_1")
      .catch((err: unknown) => err);

    expect(error).toBeInstanceOf(FlxblResponseError);
    expect((error as Error).message).toMatch(new RegExp(`${status} answered a redirect; not followed`));
    expect(reached).toEqual([]);
  });

  it("does not follow a redirect with the admin key either", async () => {
    const { baseUrl, reached } = await redirecting(307);

    const error = await new FlxblAdmin({ baseUrl, adminKey: "flxbl_ADMINadm_notarealadminkey000000" })
      .listKeys()
      .catch((err: unknown) => err);

    expect(error).toBeInstanceOf(FlxblAdminError);
    expect((error as FlxblAdminError).status).toBe(307);
    expect(reached).toEqual([]);
  });
});

describe("FlxblClient abort while the key is read", () => {
  it("sends nothing when the caller aborts while the key source is still answering", async () => {
    // Prepare: a lock lost during a slow secret read must not let the write go out after it.
    const caller = new AbortController();
    let sent = 0;
    const unknown: string[] = [];
    const apiKey: ApiKeySource = {
      get: async () => {
        caller.abort(new Error("lock lost"));
        return "key";
      },
    };
    const orders = createFlxblClient({
      baseUrl: "http://flxbl.invalid/api/v1",
      apiKey,
      fetch: async () => {
        sent++;
        return new Response("{}");
      },
    }).entity<Order>("Order");

    // Act
    const err = await orders
      .update("ord_1", { status: "paid" }, { signal: caller.signal, onUnknownOutcome: () => unknown.push("update") })
      .catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(FlxblTimeoutError);
    expect((err as Error).cause).toEqual(new Error("lock lost"));
    expect(sent).toBe(0);
    expect(unknown).toEqual([]);
  });
});
