import { randomUUID } from "node:crypto";
import { createFlxblClient, FlxblScopeError, type JobSummary, lambdaContext, scheduledEvent } from "@flxbl-lambda/core";
import { afterEach, describe, expect, it } from "vitest";
import { lowStockAlerts as spec } from "../manifest.js";
import { Harness, type LambdaHandler, type Provisioned } from "../test-harness.js";
import type { Product, StockAlert } from "../types.js";

type Stored<T> = T & { id: string; createdAt: string; updatedAt: string };
/** A seed row: typed as the entity, and loose enough for the emulator's seed format. */
type Seeded<T> = Stored<T> & Record<string, unknown>;

const product = (sku: string, overrides: Partial<Product> = {}): Seeded<Product> =>
  ({
    id: `node_${randomUUID()}`,
    sku,
    name: `Product ${sku}`,
    price: 9.5,
    stock: 10,
    lowStockThreshold: 5,
    active: true,
    ...overrides,
  }) as Seeded<Product>;

const openAlert = (p: Product & { id: string }, overrides: Partial<StockAlert> = {}) => ({
  id: `node_${randomUUID()}`,
  productId: p.id,
  sku: p.sku,
  stock: p.stock,
  threshold: p.lowStockThreshold,
  status: "open",
  ...overrides,
});

/** One product of each kind the job tells apart. */
function catalogue() {
  const lowActive = product("LOW-ACTIVE", { stock: 2 });
  const empty = product("EMPTY", { stock: 0 });
  const lowInactive = product("LOW-INACTIVE", { stock: 1, active: false });
  const atThreshold = product("AT-THRESHOLD", { stock: 5 });
  const above = product("ABOVE", { stock: 6 });
  return {
    lowActive,
    empty,
    lowInactive,
    atThreshold,
    above,
    all: [lowActive, empty, lowInactive, atThreshold, above],
  };
}

/** `n` products, every third one low. */
function many(n: number) {
  return Array.from({ length: n }, (_, i) => product(`BULK-${i}`, { stock: i % 3 === 0 ? 1 : 50 }));
}

describe("low-stock-alerts against the emulator and dynalite", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const start = async (records: { Product: Seeded<Product>[]; StockAlert?: Array<Record<string, unknown>> }) => {
    h = await Harness.start({ seed: { records } });
    const fn = await h.provision(spec);
    const handler = await h.load(spec, fn);
    return { h, fn, handler };
  };
  const invoke = (handler: LambdaHandler, event: unknown = scheduledEvent(spec.name)) =>
    handler(
      event,
      lambdaContext({ functionName: spec.name, timeoutSeconds: spec.timeoutSeconds }),
    ) as Promise<JobSummary>;
  const alerts = async (harness: Harness, where: Record<string, unknown> = {}) =>
    (
      await harness.admin<{ data: Stored<StockAlert>[] }>("POST", "/dynamic/StockAlert/query", {
        where,
        orderBy: "id",
        limit: 1000,
        includeCount: true,
      })
    ).data;
  const openFor = async (harness: Harness, productId: string) => alerts(harness, { productId, status: "open" });

  it("creates exactly one open alert, with its figures, per active product at or under its threshold", async () => {
    const c = catalogue();
    const { h, handler } = await start({ Product: c.all });

    await invoke(handler);

    const open = await alerts(h, { status: "open" });
    expect(open.map((a) => a.productId).sort()).toEqual([c.lowActive.id, c.empty.id, c.atThreshold.id].sort());
    for (const p of [c.lowActive, c.empty, c.atThreshold]) {
      expect(open.find((a) => a.productId === p.id)).toMatchObject({
        sku: p.sku,
        stock: p.stock,
        threshold: p.lowStockThreshold,
        status: "open",
      });
    }
    expect(open.every((a) => a.resolvedAt === undefined || a.resolvedAt === null)).toBe(true);
    expect(await alerts(h)).toHaveLength(3);
  });

  it("returns a summary whose figures match what the emulator shows", async () => {
    const c = catalogue();
    const { h, handler } = await start({ Product: c.all });
    h.flxbl.resetStats();

    const summary = await invoke(handler);

    const created = (await alerts(h)).length;
    const products = await h.admin<{ totalCount: number }>("POST", "/dynamic/Product/query", {
      includeCount: true,
      limit: 1,
    });
    expect(summary).toMatchObject({ complete: true, failed: 0, scanned: products.totalCount, changed: created });
    expect(summary.unchanged).toBe(products.totalCount - created);
    expect(h.flxbl.stats().routes["POST /dynamic/StockAlert"]).toBe(created);
  });

  it("creates no alert and reports nothing changed when run again", async () => {
    const c = catalogue();
    const { h, handler } = await start({ Product: c.all });
    await invoke(handler);
    const before = await alerts(h);
    h.flxbl.resetStats();

    const again = await invoke(handler);

    expect(again).toMatchObject({ complete: true, changed: 0, unchanged: c.all.length, failed: 0 });
    expect(h.flxbl.stats().routes["POST /dynamic/StockAlert"]).toBeUndefined();
    expect(h.flxbl.stats().routes["PATCH /dynamic/StockAlert/:id"]).toBeUndefined();
    expect(await alerts(h)).toEqual(before);
  });

  it("resolves the alert of a product restocked above its threshold", async () => {
    const c = catalogue();
    const { h, handler } = await start({ Product: c.all });
    await invoke(handler);
    const [alert] = await openFor(h, c.lowActive.id);
    await h.admin("PATCH", `/dynamic/Product/${c.lowActive.id}`, { stock: 40 });
    const before = Date.now();

    const summary = await invoke(handler);

    expect(summary.changed).toBe(1);
    const [resolved] = await alerts(h, { id: alert?.id });
    expect(resolved?.status).toBe("resolved");
    expect(Date.parse(resolved?.resolvedAt ?? "")).toBeGreaterThanOrEqual(before - 1000);
    expect(await openFor(h, c.lowActive.id)).toHaveLength(0);
  });

  it("resolves the alert of a product that was deactivated", async () => {
    const c = catalogue();
    const { h, handler } = await start({ Product: c.all });
    await invoke(handler);
    await h.admin("PATCH", `/dynamic/Product/${c.atThreshold.id}`, { active: false });

    const summary = await invoke(handler);

    expect(summary.changed).toBe(1);
    expect(await openFor(h, c.atThreshold.id)).toHaveLength(0);
    const [resolved] = await alerts(h, { productId: c.atThreshold.id });
    expect(resolved).toMatchObject({ status: "resolved", resolvedAt: expect.any(String) });
  });

  it("updates the open alert of a product still low whose stock changed, instead of opening a second", async () => {
    const c = catalogue();
    const { h, handler } = await start({ Product: c.all });
    await invoke(handler);
    const [alert] = await openFor(h, c.lowActive.id);
    await h.admin("PATCH", `/dynamic/Product/${c.lowActive.id}`, { stock: 4 });

    const summary = await invoke(handler);

    expect(summary.changed).toBe(1);
    const open = await openFor(h, c.lowActive.id);
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ id: alert?.id, stock: 4, threshold: 5, sku: c.lowActive.sku });
    expect(await alerts(h, { productId: c.lowActive.id })).toHaveLength(1);
  });

  it("leaves exactly one open alert for a product that had two", async () => {
    const c = catalogue();
    const { h, handler } = await start({
      Product: c.all,
      StockAlert: [openAlert(c.lowActive), openAlert(c.lowActive, { stock: 3 })],
    });

    await invoke(handler);

    const open = await openFor(h, c.lowActive.id);
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ stock: c.lowActive.stock, threshold: c.lowActive.lowStockThreshold });
    const resolved = await alerts(h, { productId: c.lowActive.id, status: "resolved" });
    expect(resolved).toHaveLength(1);
    expect(resolved[0]?.resolvedAt).toEqual(expect.any(String));
  });

  it("resolves the open alert of a product that was deleted", async () => {
    const c = catalogue();
    const { h, handler } = await start({ Product: c.all });
    await invoke(handler);
    await h.admin("DELETE", `/dynamic/Product/${c.empty.id}`);

    await invoke(handler);

    expect(await openFor(h, c.empty.id)).toHaveLength(0);
    const [resolved] = await alerts(h, { productId: c.empty.id });
    expect(resolved).toMatchObject({ status: "resolved", resolvedAt: expect.any(String) });
    expect((await alerts(h, { status: "open" })).map((a) => a.productId).sort()).toEqual(
      [c.lowActive.id, c.atThreshold.id].sort(),
    );
  });

  it("ends complete with nothing failed when FLXBL throttles mid-run", async () => {
    const products = many(150);
    const { h, handler } = await start({ Product: products });
    // Throttle once the sweep has begun: the first alert created marks it.
    const watch = setInterval(() => {
      if (!h.flxbl.stats().routes["POST /dynamic/StockAlert"]) return;
      clearInterval(watch);
      h.flxbl.configure({ faults: { rateLimitBurst: 20, rateLimitBurstRetryAfter: 1 } });
    }, 1);

    const summary = await invoke(handler);
    clearInterval(watch);

    expect(h.flxbl.stats().statuses["429"]).toBe(20);
    expect(summary).toMatchObject({ complete: true, scanned: 150, changed: 50, failed: 0 });
    const open = await alerts(h, { status: "open" });
    expect(new Set(open.map((a) => a.productId))).toEqual(
      new Set(products.filter((p) => p.stock <= p.lowStockThreshold).map((p) => p.id)),
    );
    expect(open).toHaveLength(50);
  });

  it("rides out a 429 burst on its first read, before the sweep", async () => {
    const c = catalogue();
    const { h, handler } = await start({ Product: c.all });
    // More 429s in a row than the client's own four attempts absorb.
    h.flxbl.configure({ faults: { rateLimitBurst: 8, rateLimitBurstRetryAfter: 0 } });

    const summary = await invoke(handler);

    expect(h.flxbl.stats().statuses["429"]).toBe(8);
    expect(summary).toMatchObject({ complete: true, scanned: 5, changed: 3, failed: 0 });
  });

  it("keeps one open alert per product when throttling makes the runner take a product again", async () => {
    const products = Array.from({ length: 40 }, (_, i) => product(`STALE-${i}`, { stock: 1 }));
    const { h, handler } = await start({
      Product: products,
      StockAlert: products.map((p) => openAlert(p, { stock: 3 })),
    });
    // Throttle from the first alert update on, past the client's retries, so the runner re-queues products.
    const watch = setInterval(() => {
      if (!h.flxbl.stats().routes["PATCH /dynamic/StockAlert/:id"]) return;
      clearInterval(watch);
      h.flxbl.configure({ faults: { rateLimitBurst: 40, rateLimitBurstRetryAfter: 0 } });
    }, 1);

    const summary = await invoke(handler);
    clearInterval(watch);

    expect(summary.throttled).toBeGreaterThan(0);
    expect(summary).toMatchObject({ complete: true, scanned: 40, changed: 40, failed: 0 });
    const open = await alerts(h, { status: "open" });
    expect(open).toHaveLength(40);
    expect(new Set(open.map((a) => a.productId)).size).toBe(40);
    expect(open.every((a) => a.stock === 1)).toBe(true);
  });

  it("lets only one of two overlapping invocations own the run", async () => {
    const products = many(90);
    const { h, handler } = await start({ Product: products });
    h.flxbl.resetStats();

    const [a, b] = await Promise.all([invoke(handler), invoke(handler)]);

    const owners = [a, b].filter((s) => s.skipped === undefined);
    expect(owners).toHaveLength(1);
    expect([a, b].filter((s) => s.skipped !== undefined)).toHaveLength(1);
    expect(owners[0]).toMatchObject({ complete: true, changed: 30 });
    expect(h.flxbl.stats().routes["POST /dynamic/StockAlert"]).toBe(30);
    expect(await alerts(h, { status: "open" })).toHaveLength(30);
  });

  it("runs on demand from an empty event and returns the summary as JSON", async () => {
    const c = catalogue();
    const { handler } = await start({ Product: c.all });

    const summary = await invoke(handler, {});

    const json = JSON.parse(JSON.stringify(summary)) as Record<string, unknown>;
    expect(json).toMatchObject({ scanned: 5, changed: 3, unchanged: 2, failed: 0, complete: true });
  });

  it("runs from an EventBridge Scheduled Event and returns the summary as JSON", async () => {
    const c = catalogue();
    const { handler } = await start({ Product: c.all });

    const summary = await invoke(handler, scheduledEvent(spec.name));

    const json = JSON.parse(JSON.stringify(summary)) as Record<string, unknown>;
    expect(json).toMatchObject({ scanned: 5, changed: 3, unchanged: 2, failed: 0, complete: true });
  });

  it("declares scopes on Product and StockAlert only, none on Order", () => {
    expect(spec.scopes.filter((s) => /Order/.test(s))).toEqual([]);
    expect(spec.scopes.every((s) => /^entity:(Product|StockAlert):/.test(s))).toBe(true);
    expect(spec.scopes.filter((s) => s.startsWith("entity:Product:"))).toEqual(["entity:Product:read"]);
  });

  it("sends no request outside Product and StockAlert during a sweep", async () => {
    const c = catalogue();
    const { h, handler } = await start({ Product: c.all, StockAlert: [openAlert(product("GONE", { stock: 1 }))] });
    await invoke(handler);
    await h.admin("PATCH", `/dynamic/Product/${c.lowActive.id}`, { stock: 40 });
    h.flxbl.resetStats();

    await invoke(handler);

    const routes = Object.keys(h.flxbl.stats().routes);
    expect(routes.length).toBeGreaterThan(0);
    expect(routes.filter((r) => !/ \/dynamic\/(Product|StockAlert)(\/|$)/.test(r))).toEqual([]);
  });

  it("has a client whose scope guard refuses Order before anything is sent", async () => {
    const c = catalogue();
    const { h, fn } = await start({ Product: c.all });
    const client = createFlxblClient({ baseUrl: h.flxbl.url, apiKey: (fn as Provisioned).apiKey, scopes: spec.scopes });
    h.flxbl.resetStats();

    const refused = client.entity("Order").query({ limit: 1 });

    await expect(refused).rejects.toBeInstanceOf(FlxblScopeError);
    expect(h.flxbl.stats().total).toBe(0);
  });
});
