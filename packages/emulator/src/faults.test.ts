import { describe, expect, it, onTestFinished } from "vitest";
import type { Emulator, EmulatorConfig } from "./index.js";
import { noFaults } from "./index.js";
import { type Answer, as, keyWith, order, product, startAppEmulator } from "./test-helpers.js";

/** An in-memory emulator closed when the test ends. */
async function emulator(config: Partial<EmulatorConfig> = {}): Promise<Emulator> {
  const flxbl = await startAppEmulator(config);
  onTestFinished(() => flxbl.close());
  return flxbl;
}

/** A request to a `/_emulator/*` control endpoint, with `key` when given. */
async function control(
  flxbl: Emulator,
  key: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer<any>> {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${flxbl.origin}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function statuses(flxbl: Emulator, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await as(flxbl, flxbl.adminKey).get("/dynamic/Product")).status);
  return out;
}

async function productCount(flxbl: Emulator): Promise<number> {
  const res = await as(flxbl, flxbl.adminKey).get("/dynamic/Product");
  return res.body.pagination.total;
}

describe("faults", () => {
  it("delays every API request by latencyMs", async () => {
    const flxbl = await emulator({ faults: { latencyMs: 200 } });
    const started = performance.now();

    const res = await as(flxbl, flxbl.adminKey).get("/dynamic/Product");

    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
  });

  it.each([
    { status: 500, faults: { errorRate: 1, errorStatus: 500 as const } },
    { status: 503, faults: { errorRate: 1 } },
  ])("answers every request with $status when errorRate is 1 (errorStatus $status)", async ({ status, faults }) => {
    const flxbl = await emulator({ faults });

    const answers = await Promise.all([
      as(flxbl, flxbl.adminKey).get("/dynamic/Product"),
      as(flxbl, flxbl.adminKey).post("/dynamic/Order", order()),
      as(flxbl, flxbl.adminKey).get("/dynamic/Order/node_x"),
    ]);

    expect(answers.map((a) => a.status)).toEqual([status, status, status]);
    expect(answers[0]?.body).toEqual({ statusCode: status, message: "Injected fault", error: expect.any(String) });
  });

  it("does not apply a write answered with an injected error", async () => {
    const flxbl = await emulator({ faults: { errorRate: 1 } });

    await as(flxbl, flxbl.adminKey).post("/dynamic/Product", product());

    await control(flxbl, flxbl.adminKey, "PATCH", "/_emulator/config", { faults: { errorRate: 0 } });
    expect(await productCount(flxbl)).toBe(0);
  });

  it("fails exactly the next errorBurst requests, then recovers", async () => {
    const flxbl = await emulator({ faults: { errorBurst: 2 } });

    const got = await statuses(flxbl, 4);

    expect(got).toEqual([503, 503, 200, 200]);
  });

  it("answers the next rateLimitBurst requests with 429 and Retry-After = rateLimitBurstRetryAfter", async () => {
    const flxbl = await emulator({ faults: { rateLimitBurst: 2, rateLimitBurstRetryAfter: 3 } });
    const admin = as(flxbl, flxbl.adminKey);

    const answers = [await admin.get("/dynamic/Product"), await admin.get("/dynamic/Product")];
    const after = await admin.get("/dynamic/Product");

    expect(answers.map((a) => [a.status, a.headers.get("retry-after")])).toEqual([
      [429, "3"],
      [429, "3"],
    ]);
    expect(answers[0]?.body).toEqual({
      statusCode: 429,
      message: "ThrottlerException: Too Many Requests",
      error: "Too Many Requests",
    });
    expect(after.status).toBe(200);
  });

  it("makes a POST fail at the client with dropResponseAfterWrite while the record is created", async () => {
    const flxbl = await emulator({ faults: { dropResponseAfterWrite: 1 } });

    const attempt = as(flxbl, flxbl.adminKey).post("/dynamic/Product", product());

    await expect(attempt).rejects.toThrow();
    expect(await productCount(flxbl)).toBe(1);
  });

  it("drops only the next dropResponseAfterWrite writes", async () => {
    const flxbl = await emulator({ faults: { dropResponseAfterWrite: 1 } });
    const admin = as(flxbl, flxbl.adminKey);
    await admin.post("/dynamic/Product", product({ sku: "DROPPED" })).catch(() => undefined);

    const res = await admin.post("/dynamic/Product", product({ sku: "ANSWERED" }));

    expect(res.status).toBe(201);
    expect(await productCount(flxbl)).toBe(2);
  });

  it("answers reads normally while a dropResponseAfterWrite is pending", async () => {
    const flxbl = await emulator({ faults: { dropResponseAfterWrite: 1 } });
    const admin = as(flxbl, flxbl.adminKey);

    const read = await admin.get("/dynamic/Product");

    expect(read.status).toBe(200);
    await expect(admin.post("/dynamic/Product", product())).rejects.toThrow();
  });

  it("drops the response of a POST after PATCH /_emulator/config sets dropResponseAfterWrite", async () => {
    const flxbl = await emulator();
    const patched = await control(flxbl, flxbl.adminKey, "PATCH", "/_emulator/config", {
      faults: { dropResponseAfterWrite: 1 },
    });

    const attempt = as(flxbl, flxbl.adminKey).post("/dynamic/Product", product());

    expect(patched.status).toBe(200);
    await expect(attempt).rejects.toThrow();
    expect(await productCount(flxbl)).toBe(1);
  });

  it("injects a fault set at run time through PATCH /_emulator/config", async () => {
    const flxbl = await emulator();

    await control(flxbl, flxbl.adminKey, "PATCH", "/_emulator/config", {
      faults: { errorBurst: 1, errorStatus: 502 },
    });

    expect(await statuses(flxbl, 2)).toEqual([502, 200]);
  });
});

const controlCalls = [
  { method: "GET", path: "/_emulator/config" },
  { method: "PATCH", path: "/_emulator/config", body: { faults: { latencyMs: 0 } } },
  { method: "GET", path: "/_emulator/stats" },
  { method: "DELETE", path: "/_emulator/stats" },
  { method: "POST", path: "/_emulator/reset" },
];

describe("control endpoints", () => {
  it("answers GET /_emulator/health without a key", async () => {
    const flxbl = await emulator();

    const res = await control(flxbl, undefined, "GET", "/_emulator/health");

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });

  it.each(controlCalls)("answers 401 to $method $path without a key", async ({ method, path, body }) => {
    const flxbl = await emulator();

    const res = await control(flxbl, undefined, method, path, body);

    expect(res.status).toBe(401);
  });

  it.each(controlCalls)("answers 403 to $method $path with a scoped key", async ({ method, path, body }) => {
    const flxbl = await emulator();
    const key = await keyWith(flxbl, ["entity:*:*", "relationship:*:*"]);

    const res = await control(flxbl, key, method, path, body);

    expect(res.status).toBe(403);
  });

  it("reports the running config on GET /_emulator/config", async () => {
    const flxbl = await emulator({ rateLimit: { rps: 5, burst: 7 }, faults: { latencyMs: 1 } });

    const res = await control(flxbl, flxbl.adminKey, "GET", "/_emulator/config");

    expect(res.status).toBe(200);
    expect(res.body.rateLimit).toEqual({ rps: 5, burst: 7 });
    expect(res.body.faults).toEqual({ ...noFaults, latencyMs: 1 });
  });

  it("merges a PATCH /_emulator/config into the running config and answers the result", async () => {
    const flxbl = await emulator({ faults: { latencyMs: 1 } });

    const res = await control(flxbl, flxbl.adminKey, "PATCH", "/_emulator/config", { faults: { errorBurst: 4 } });

    expect(res.status).toBe(200);
    expect(res.body.faults).toEqual({ ...noFaults, latencyMs: 1, errorBurst: 4 });
  });

  it.each([
    { case: "an errorRate above 1", body: { faults: { errorRate: 2 } } },
    { case: "an unsupported errorStatus", body: { faults: { errorStatus: 418 } } },
    { case: "a negative latency", body: { faults: { latencyMs: -1 } } },
    { case: "an unknown fault", body: { faults: { explode: true } } },
    { case: "an unknown listShape", body: { behaviour: { listShape: "xml" } } },
    { case: "a zero rps", body: { rateLimit: { rps: 0, burst: 1 } } },
    { case: "an unknown top-level key", body: { speed: 1 } },
    { case: "an array", body: [1, 2] },
  ])("answers 400 to a config body with $case", async ({ body }) => {
    const flxbl = await emulator();

    const res = await control(flxbl, flxbl.adminKey, "PATCH", "/_emulator/config", body);

    expect(res.status).toBe(400);
    expect(res.body).toEqual({ statusCode: 400, message: expect.any(String), error: "Bad Request" });
  });

  it("applies no part of a rejected config body", async () => {
    const flxbl = await emulator();

    await control(flxbl, flxbl.adminKey, "PATCH", "/_emulator/config", { faults: { errorBurst: 1, errorRate: 2 } });

    expect(await statuses(flxbl, 1)).toEqual([200]);
  });

  it("counts requests by route template and status on GET /_emulator/stats", async () => {
    const flxbl = await emulator();
    const admin = as(flxbl, flxbl.adminKey);
    const created = await admin.post("/dynamic/Order", order());
    await control(flxbl, flxbl.adminKey, "DELETE", "/_emulator/stats");

    await admin.patch(`/dynamic/Order/${created.body.id}`, { status: "paid" });
    await admin.patch(`/dynamic/Order/${created.body.id}`, { status: "refunded" });
    await admin.get("/dynamic/Order/node_missing");

    const res = await control(flxbl, flxbl.adminKey, "GET", "/_emulator/stats");
    expect(res.body).toEqual({
      total: 3,
      routes: { "PATCH /dynamic/Order/:id": 2, "GET /dynamic/Order/:id": 1 },
      statuses: { "200": 2, "404": 1 },
    });
  });

  it("counts refused requests under their route template", async () => {
    const flxbl = await emulator();

    await as(flxbl, undefined).get("/dynamic/Order");
    await as(flxbl, "flxbl_abcdefgh_0123456789abcdef").post("/dynamic/Order/query", {});

    const res = await control(flxbl, flxbl.adminKey, "GET", "/_emulator/stats");
    expect(res.body).toEqual({
      total: 2,
      routes: { "GET /dynamic/Order": 1, "POST /dynamic/Order/query": 1 },
      statuses: { "401": 2 },
    });
  });

  it("resets the counts on DELETE /_emulator/stats", async () => {
    const flxbl = await emulator();
    await statuses(flxbl, 3);

    const deleted = await control(flxbl, flxbl.adminKey, "DELETE", "/_emulator/stats");

    expect(deleted.status).toBe(204);
    const res = await control(flxbl, flxbl.adminKey, "GET", "/_emulator/stats");
    expect(res.body).toEqual({ total: 0, routes: {}, statuses: {} });
  });

  it("clears records and relationships on POST /_emulator/reset", async () => {
    const flxbl = await emulator();
    const admin = as(flxbl, flxbl.adminKey);
    const o = await admin.post("/dynamic/Order", order());
    const p = await admin.post("/dynamic/Product", product());
    await admin.post(`/dynamic/Order/${o.body.id}/relationships/CONTAINS`, {
      targetId: p.body.id,
      properties: { quantity: 1 },
    });

    const reset = await control(flxbl, flxbl.adminKey, "POST", "/_emulator/reset");

    expect(reset.status).toBe(204);
    expect((await admin.get("/dynamic/Order")).body.pagination.total).toBe(0);
    expect((await admin.get("/dynamic/Product")).body.pagination.total).toBe(0);
    expect((await admin.get(`/dynamic/Order/${o.body.id}`)).status).toBe(404);
  });

  it("keeps API keys on POST /_emulator/reset", async () => {
    const flxbl = await emulator();
    const key = await keyWith(flxbl, ["entity:*:read"]);

    await control(flxbl, flxbl.adminKey, "POST", "/_emulator/reset");

    expect((await as(flxbl, key).get("/dynamic/Order")).status).toBe(200);
  });

  it("turns injected faults off on POST /_emulator/reset", async () => {
    const flxbl = await emulator({ faults: { errorBurst: 10 } });

    await control(flxbl, flxbl.adminKey, "POST", "/_emulator/reset");

    expect(await statuses(flxbl, 1)).toEqual([200]);
  });
});
