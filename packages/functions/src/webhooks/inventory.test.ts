import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { inventoryWebhook as spec } from "../manifest.js";
import { Harness, type LambdaHandler, newSigningSecret, type Provisioned } from "../test-harness.js";
import type { Product } from "../types.js";

const productPatches = "PATCH /dynamic/Product/:id";

describe("inventory webhook (Standard Webhooks), through the middy handler with API Gateway v2 events", () => {
  let h: Harness;
  let fn: Provisioned;
  let handler: LambdaHandler;
  let secret: string;

  /** A product in the emulator, created by the admin as a shop would; each test gets its own SKU. */
  const newProduct = async (overrides: Partial<Product> = {}) =>
    h.admin<Product & { id: string }>("POST", "/dynamic/Product", {
      sku: `SKU-${randomUUID()}`,
      name: "Espresso cup",
      price: 12.5,
      stock: 0,
      lowStockThreshold: 2,
      active: true,
      ...overrides,
    });
  const readProduct = (id: string) =>
    h.admin<Product & { id: string; updatedAt: string }>("GET", `/dynamic/Product/${id}`);
  const patches = () => h.flxbl.stats().routes[productPatches] ?? 0;

  /** The Standard Webhooks envelope of `inventory.updated`, as the public contract describes it. */
  const inventoryUpdated = (sku: string, quantity: number, version: number) => ({
    type: "inventory.updated",
    timestamp: new Date().toISOString(),
    data: { sku, quantity, version },
  });

  /** Headers signed by the standardwebhooks package, as a Standard Webhooks sender makes them. */
  const signed = (body: string, options: { id?: string; secret?: string; timestamp?: number } = {}) => {
    const id = options.id ?? `msg_${randomUUID()}`;
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    return {
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": new Webhook(options.secret ?? secret).sign(id, new Date(timestamp * 1000), body),
    };
  };
  /** Delivers `payload` as the sender would: `id` is the webhook-id, the same on every redelivery. */
  const deliver = (payload: unknown, options: { id?: string; secret?: string; timestamp?: number } = {}) => {
    const body = JSON.stringify(payload);
    return h.post(handler, spec, { headers: signed(body, options), body });
  };

  beforeAll(async () => {
    h = await Harness.start();
    secret = newSigningSecret();
    fn = await h.provision(spec, [secret]);
    handler = await h.load(spec, fn);
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.flxbl.configure({ faults: { errorBurst: 0, rateLimitBurst: 0, latencyMs: 0 } });
    h.flxbl.resetStats();
  });

  describe("signatures", () => {
    it("applies inventory.updated signed by the standardwebhooks package: stock, stockVersion and stockUpdatedAt are set", async () => {
      const product = await newProduct({ stock: 4 });
      const event = inventoryUpdated(product.sku, 17, 3);
      const id = `msg_${randomUUID()}`;

      const res = await deliver(event, { id });

      expect(res.statusCode).toBe(200);
      expect(res.json).toMatchObject({ eventId: id, status: "applied", productId: product.id, from: "4", to: "17" });
      const stored = await readProduct(product.id);
      expect(stored).toMatchObject({ stock: 17, stockVersion: 3 });
      expect(Date.parse(stored.stockUpdatedAt ?? "")).toBe(Date.parse(event.timestamp));
    });

    it("answers 401 for a tampered body and leaves the product alone", async () => {
      const product = await newProduct({ stock: 4 });
      const body = JSON.stringify(inventoryUpdated(product.sku, 17, 1));
      const tampered = body.replace('"quantity":17', '"quantity":9000');

      const res = await h.post(handler, spec, { headers: signed(body), body: tampered });

      expect(res.statusCode).toBe(401);
      expect(res.json).toEqual({ message: "no matching signature" });
      expect((await readProduct(product.id)).stock).toBe(4);
      expect(patches()).toBe(0);
    });

    it("answers 401 for a signature made with another secret", async () => {
      const product = await newProduct({ stock: 4 });

      const res = await deliver(inventoryUpdated(product.sku, 17, 1), { secret: newSigningSecret() });

      expect(res.statusCode).toBe(401);
      expect(res.json).toEqual({ message: "no matching signature" });
      expect((await readProduct(product.id)).stock).toBe(4);
    });

    it("answers 401 for a webhook-timestamp outside the 300 s tolerance", async () => {
      const product = await newProduct({ stock: 4 });

      const res = await deliver(inventoryUpdated(product.sku, 17, 1), {
        timestamp: Math.floor(Date.now() / 1000) - 301,
      });

      expect(res.statusCode).toBe(401);
      expect(res.json).toEqual({ message: "timestamp outside the tolerance window" });
      expect((await readProduct(product.id)).stock).toBe(4);
    });

    it.each(["webhook-id", "webhook-timestamp", "webhook-signature"] as const)(
      "answers 401 when the %s header is missing",
      async (name) => {
        const product = await newProduct({ stock: 4 });
        const body = JSON.stringify(inventoryUpdated(product.sku, 17, 1));
        const headers: Record<string, string> = signed(body);
        delete headers[name];

        const res = await h.post(handler, spec, { headers, body });

        expect(res.statusCode).toBe(401);
        expect(res.json).toEqual({ message: "missing signature headers" });
        expect((await readProduct(product.id)).stock).toBe(4);
      },
    );

    it("verifies a base64-encoded body on its decoded bytes", async () => {
      const product = await newProduct({ stock: 4 });
      const body = JSON.stringify(inventoryUpdated(product.sku, 17, 1));

      const res = await h.post(handler, spec, {
        headers: signed(body),
        body,
        event: (e) => {
          e.body = Buffer.from(body).toString("base64");
          e.isBase64Encoded = true;
        },
      });

      expect(res.statusCode).toBe(200);
      expect(res.json).toMatchObject({ status: "applied" });
      expect((await readProduct(product.id)).stock).toBe(17);
    });
  });

  describe("validation and limits", () => {
    it("answers 400 for a signed body that is not JSON", async () => {
      const body = '{"type":"inventory.updated",';

      const res = await h.post(handler, spec, { headers: signed(body), body });

      expect(res.statusCode).toBe(400);
      expect(res.json.message).toMatch(/^body is not valid JSON/);
    });

    it("answers 400 naming data.sku when the payload has no sku", async () => {
      const { data, ...event } = inventoryUpdated("unused", 5, 1);

      const res = await deliver({ ...event, data: { quantity: data.quantity, version: data.version } });

      expect(res.statusCode).toBe(400);
      expect(res.json.message).toBe("inventory.updated event is invalid");
      expect(res.json.problems).toEqual([expect.stringMatching(/^data\.sku: /)]);
    });

    it("answers 400 naming data.quantity for a negative quantity, and changes nothing", async () => {
      const product = await newProduct({ stock: 4 });

      const res = await deliver(inventoryUpdated(product.sku, -1, 1));

      expect(res.statusCode).toBe(400);
      expect(res.json.problems).toEqual([expect.stringMatching(/^data\.quantity: /)]);
      expect((await readProduct(product.id)).stock).toBe(4);
    });

    it("answers 413 for a body over 256 KiB, before checking anything else", async () => {
      const product = await newProduct({ stock: 4 });
      const body = JSON.stringify({ ...inventoryUpdated(product.sku, 1, 1), padding: "x".repeat(300 * 1024) });

      const res = await h.post(handler, spec, { headers: signed(body), body });

      expect(res.statusCode).toBe(413);
      expect(h.flxbl.stats().routes["POST /dynamic/Product/query"]).toBeUndefined();
    });

    it("acknowledges an event type it does not handle with 200 and status ignored, without calling FLXBL", async () => {
      const id = `msg_${randomUUID()}`;

      const res = await deliver({ type: "inventory.deleted", timestamp: new Date().toISOString(), data: {} }, { id });

      expect(res.statusCode).toBe(200);
      expect(res.json).toMatchObject({
        eventId: id,
        status: "ignored",
        reason: "event type inventory.deleted is not handled",
      });
      expect(h.flxbl.stats().total).toBe(0);
    });

    it("records the ignored answer of an unknown event type in the state table as a completed event", async () => {
      const id = `msg_${randomUUID()}`;

      await deliver({ type: "inventory.deleted", timestamp: new Date().toISOString(), data: {} }, { id });

      // The idempotency records hold the answer; find ours by the event id in the stored response.
      const scan = await DynamoDBDocumentClient.from(new DynamoDBClient({})).send(
        new ScanCommand({ TableName: h.tableName }),
      );
      const records = (scan.Items ?? []).filter((item) => JSON.stringify(item).includes(id));
      expect(records).toHaveLength(1);
      expect(records[0]?.status).toBe("COMPLETED");
      expect(JSON.parse(records[0]?.data?.body)).toMatchObject({ eventId: id, status: "ignored" });
    });

    it("acknowledges an update for a SKU no product has, as ignored", async () => {
      const sku = `SKU-missing-${randomUUID()}`;

      const res = await deliver(inventoryUpdated(sku, 5, 1));

      expect(res.statusCode).toBe(200);
      expect(res.json).toMatchObject({ status: "ignored", reason: `no product with sku ${sku}` });
      expect(patches()).toBe(0);
    });
  });

  describe("versions", () => {
    it("ignores an update older than the stored version, keeping the newer stock", async () => {
      const product = await newProduct({ stock: 4 });
      const newer = await deliver(inventoryUpdated(product.sku, 10, 5));

      const older = await deliver(inventoryUpdated(product.sku, 99, 3));

      expect(newer.json).toMatchObject({ status: "applied" });
      expect(older.statusCode).toBe(200);
      expect(older.json).toMatchObject({ status: "unchanged", reason: "stored version 5 is newer than 3" });
      expect(await readProduct(product.id)).toMatchObject({ stock: 10, stockVersion: 5 });
      expect(patches()).toBe(1);
    });

    it("applies a newer version after an older one", async () => {
      const product = await newProduct({ stock: 4 });
      await deliver(inventoryUpdated(product.sku, 10, 1));

      const res = await deliver(inventoryUpdated(product.sku, 3, 2));

      expect(res.json).toMatchObject({ status: "applied", from: "10", to: "3" });
      expect(await readProduct(product.id)).toMatchObject({ stock: 3, stockVersion: 2 });
    });
  });

  describe("idempotency", () => {
    it("answers a sequential duplicate with the original response and applies it once", async () => {
      const product = await newProduct({ stock: 4 });
      const event = inventoryUpdated(product.sku, 17, 1);
      const id = `msg_${randomUUID()}`;

      const first = await deliver(event, { id });
      const updatedAt = (await readProduct(product.id)).updatedAt;
      const second = await deliver(event, { id });

      expect(first.json).toMatchObject({ status: "applied" });
      expect(second).toEqual(first);
      expect(patches()).toBe(1);
      expect((await readProduct(product.id)).updatedAt).toBe(updatedAt);
    });

    it("answers a concurrent duplicate 503 with Retry-After while the first is in progress, then the original", async () => {
      const product = await newProduct({ stock: 4 });
      const event = inventoryUpdated(product.sku, 17, 1);
      const id = `msg_${randomUUID()}`;
      h.flxbl.configure({ faults: { latencyMs: 300 } });

      const [a, b] = await Promise.all([
        deliver(event, { id }),
        new Promise((r) => setTimeout(r, 100)).then(() => deliver(event, { id })),
      ]);
      h.flxbl.configure({ faults: { latencyMs: 0 } });
      const later = await deliver(event, { id });

      expect(a.statusCode).toBe(200);
      expect(a.json).toMatchObject({ status: "applied" });
      expect(b.statusCode).toBe(503);
      expect(Number(b.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(later).toEqual(a);
      expect(patches()).toBe(1);
    });

    it("keeps the first delivery's claim when a duplicate is refused, so a third concurrent copy is refused too", async () => {
      const product = await newProduct({ stock: 4 });
      const event = inventoryUpdated(product.sku, 17, 1);
      const id = `msg_${randomUUID()}`;
      const after = (ms: number) => new Promise((r) => setTimeout(r, ms)).then(() => deliver(event, { id }));
      h.flxbl.configure({ faults: { latencyMs: 300 } });

      const [first, second, third] = await Promise.all([deliver(event, { id }), after(100), after(250)]);
      h.flxbl.configure({ faults: { latencyMs: 0 } });
      const later = await deliver(event, { id });

      expect(first.json).toMatchObject({ status: "applied" });
      expect([second.statusCode, third.statusCode]).toEqual([503, 503]);
      expect(later).toEqual(first);
    });

    it.each([
      { outage: "503s", faults: { errorBurst: 50, errorStatus: 503 as const } },
      { outage: "429s", faults: { rateLimitBurst: 50, rateLimitBurstRetryAfter: 1 } },
    ])(
      "answers 503 when FLXBL keeps answering $outage past the retry budget, applies nothing, and applies a redelivery once",
      async ({ faults }) => {
        const product = await newProduct({ stock: 4 });
        const event = inventoryUpdated(product.sku, 17, 1);
        const id = `msg_${randomUUID()}`;
        h.flxbl.configure({ faults });

        const failed = await deliver(event, { id });
        h.flxbl.configure({ faults: { errorBurst: 0, rateLimitBurst: 0 } });
        const afterFailure = await readProduct(product.id);
        const redelivered = await deliver(event, { id });
        const again = await deliver(event, { id });

        expect(failed.statusCode).toBe(503);
        expect(failed.headers["retry-after"]).toMatch(/^[1-9]\d*$/);
        expect(afterFailure).toMatchObject({ stock: 4 });
        expect(afterFailure.stockVersion ?? null).toBeNull();
        expect(redelivered.statusCode).toBe(200);
        expect(redelivered.json).toMatchObject({ status: "applied", to: "17" });
        expect(again).toEqual(redelivered);
        expect(patches()).toBe(1);
        expect(await readProduct(product.id)).toMatchObject({ stock: 17, stockVersion: 1 });
      },
    );
  });
});
