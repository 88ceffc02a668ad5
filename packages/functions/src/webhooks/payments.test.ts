import { randomUUID } from "node:crypto";
import { type FunctionSpec, signStripePayload } from "@flxbl-lambda/core";
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { paymentsWebhook as spec } from "../manifest.js";
import { Harness, type LambdaHandler, newSigningSecret, type Provisioned } from "../test-harness.js";
import type { Order } from "../types.js";

const stripe = new Stripe("sk_test_not_used_for_api_calls");

describe("payments webhook (Stripe), through the middy handler with API Gateway v2 events", () => {
  let h: Harness;
  let fn: Provisioned;
  let handler: LambdaHandler;
  let secret: string;
  let orderSeq = 0;

  /** A pending order in the emulator, created by the admin as a shop would. */
  const newOrder = async (overrides: Partial<Order> = {}) =>
    h.admin<Order & { id: string }>("POST", "/dynamic/Order", {
      number: `ORD-${++orderSeq}`,
      status: "pending",
      total: 2500,
      currency: "eur",
      ...overrides,
    });
  const readOrder = (id: string) => h.admin<Order & { id: string; updatedAt: string }>("GET", `/dynamic/Order/${id}`);

  /** A Stripe event object exactly as Stripe sends it. */
  const stripeEvent = (type: string, object: Record<string, unknown>, created = Math.floor(Date.now() / 1000)) => ({
    id: `evt_${randomUUID().replaceAll("-", "")}`,
    object: "event",
    api_version: "2024-06-20",
    created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  });
  const paymentIntent = (orderId: string, overrides: Record<string, unknown> = {}) => ({
    id: `pi_${randomUUID().replaceAll("-", "").slice(0, 24)}`,
    object: "payment_intent",
    amount: 2500,
    currency: "eur",
    status: "succeeded",
    metadata: { orderId },
    last_payment_error: null,
    ...overrides,
  });
  const charge = (orderId: string, paymentIntentId: string, overrides: Record<string, unknown> = {}) => ({
    id: `ch_${randomUUID().replaceAll("-", "").slice(0, 24)}`,
    object: "charge",
    amount: 2500,
    amount_refunded: 2500,
    currency: "eur",
    refunded: true,
    payment_intent: paymentIntentId,
    metadata: { orderId },
    ...overrides,
  });

  /** Signs with the official stripe package, as Stripe's servers do. */
  const signed = (payload: string, options: { secret?: string; timestamp?: number } = {}) => ({
    "stripe-signature": stripe.webhooks.generateTestHeaderString({
      payload,
      secret: options.secret ?? secret,
      timestamp: options.timestamp,
    }),
  });
  const deliver = (event: unknown, options: { secret?: string; timestamp?: number } = {}) => {
    const body = JSON.stringify(event);
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
    it("applies payment_intent.succeeded signed by the stripe package: the order becomes paid", async () => {
      const order = await newOrder();
      const pi = paymentIntent(order.id);
      const event = stripeEvent("payment_intent.succeeded", pi);

      const res = await deliver(event);

      expect(res.statusCode).toBe(200);
      expect(res.json).toMatchObject({
        eventId: event.id,
        status: "applied",
        orderId: order.id,
        from: "pending",
        to: "paid",
      });
      const stored = await readOrder(order.id);
      expect(stored).toMatchObject({
        status: "paid",
        paymentReference: pi.id,
        paidAt: new Date(event.created * 1000).toISOString(),
      });
    });

    it("answers 401 for a tampered body and leaves the order alone", async () => {
      const order = await newOrder();
      const body = JSON.stringify(stripeEvent("payment_intent.succeeded", paymentIntent(order.id)));
      const tampered = body.replace('"amount":2500', '"amount":1');

      const res = await h.post(handler, spec, { headers: signed(body), body: tampered });

      expect(res.statusCode).toBe(401);
      expect(res.json).toEqual({ message: "no matching signature" });
      expect((await readOrder(order.id)).status).toBe("pending");
      expect(h.flxbl.stats().routes["PATCH /dynamic/Order/:id"]).toBeUndefined();
    });

    it("answers 401 for a signature made with another secret", async () => {
      const order = await newOrder();
      const res = await deliver(stripeEvent("payment_intent.succeeded", paymentIntent(order.id)), {
        secret: newSigningSecret(),
      });
      expect(res.statusCode).toBe(401);
      expect((await readOrder(order.id)).status).toBe("pending");
    });

    it("answers 401 for a timestamp outside the 300 s tolerance", async () => {
      const order = await newOrder();
      const res = await deliver(stripeEvent("payment_intent.succeeded", paymentIntent(order.id)), {
        timestamp: Math.floor(Date.now() / 1000) - 301,
      });
      expect(res.statusCode).toBe(401);
      expect(res.json).toEqual({ message: "timestamp outside the tolerance window" });
    });

    it("answers 401 when the Stripe-Signature header is missing", async () => {
      const body = JSON.stringify(stripeEvent("payment_intent.succeeded", paymentIntent("node_x")));
      const res = await h.post(handler, spec, { headers: {}, body });
      expect(res.statusCode).toBe(401);
      expect(res.json).toEqual({ message: "missing signature headers" });
    });

    it("verifies a base64-encoded body on its decoded bytes", async () => {
      const order = await newOrder();
      const body = JSON.stringify(stripeEvent("payment_intent.succeeded", paymentIntent(order.id)));
      const res = await h.post(handler, spec, {
        headers: signed(body),
        body,
        event: (e) => {
          e.body = Buffer.from(body).toString("base64");
          e.isBase64Encoded = true;
        },
      });
      expect(res.statusCode).toBe(200);
      expect((await readOrder(order.id)).status).toBe("paid");
    });

    it("accepts either of two active secrets, so the sender's secret can be rolled", async () => {
      const rolled = newSigningSecret();
      const both = await h.provision({ ...spec, name: "payments-webhook-rolled" } as FunctionSpec, [secret, rolled]);
      const rolledHandler = await h.load(spec, both);
      const order = await newOrder();
      const body = JSON.stringify(stripeEvent("payment_intent.succeeded", paymentIntent(order.id)));

      const res = await h.post(rolledHandler, spec, { headers: signed(body, { secret: rolled }), body });

      expect(res.statusCode).toBe(200);
      expect((await readOrder(order.id)).status).toBe("paid");
    });

    it("signs test payloads in a form the stripe package accepts", () => {
      const payload = JSON.stringify(stripeEvent("payment_intent.succeeded", paymentIntent("node_1")));
      const header = signStripePayload(payload, secret);
      const verified = stripe.webhooks.constructEvent(payload, header, secret);
      expect(verified.id).toBe(JSON.parse(payload).id);
    });
  });

  describe("validation and limits", () => {
    it("answers 400 for a signed body that is not JSON", async () => {
      const body = "{not json";
      const res = await h.post(handler, spec, { headers: signed(body), body });
      expect(res.statusCode).toBe(400);
      expect(res.json.message).toMatch(/^body is not valid JSON/);
    });

    it("answers 400 naming what is missing when metadata.orderId is absent", async () => {
      const pi = paymentIntent("node_x");
      const res = await deliver(stripeEvent("payment_intent.succeeded", { ...pi, metadata: {} }));
      expect(res.statusCode).toBe(400);
      expect(res.json.problems).toEqual([expect.stringContaining("metadata.orderId")]);
    });

    it("answers 413 for a body over 256 KiB, before checking anything else", async () => {
      const body = JSON.stringify({ padding: "x".repeat(300 * 1024) });
      const res = await h.post(handler, spec, { headers: signed(body), body });
      expect(res.statusCode).toBe(413);
    });

    it("acknowledges an event type it does not handle, as ignored", async () => {
      const event = stripeEvent("customer.created", { id: "cus_1", object: "customer" });
      const res = await deliver(event);
      expect(res.statusCode).toBe(200);
      expect(res.json).toMatchObject({ eventId: event.id, status: "ignored" });
      expect(h.flxbl.stats().total).toBe(0);
    });

    it("acknowledges an event for an order that does not exist, as ignored", async () => {
      const res = await deliver(stripeEvent("payment_intent.succeeded", paymentIntent("node_does-not-exist")));
      expect(res.statusCode).toBe(200);
      expect(res.json).toMatchObject({ status: "ignored", reason: "order not found" });
    });
  });

  describe("idempotency", () => {
    it("answers a sequential duplicate with the original response and applies it once", async () => {
      const order = await newOrder();
      const event = stripeEvent("payment_intent.succeeded", paymentIntent(order.id));

      const first = await deliver(event);
      const updatedAt = (await readOrder(order.id)).updatedAt;
      const second = await deliver(event);

      expect(second).toEqual(first);
      expect(h.flxbl.stats().routes["PATCH /dynamic/Order/:id"]).toBe(1);
      expect((await readOrder(order.id)).updatedAt).toBe(updatedAt);
    });

    it("answers a concurrent duplicate 503 with Retry-After while the first is in progress, then the original", async () => {
      const order = await newOrder();
      const event = stripeEvent("payment_intent.succeeded", paymentIntent(order.id));
      h.flxbl.configure({ faults: { latencyMs: 300 } });

      const [a, b] = await Promise.all([
        deliver(event),
        new Promise((r) => setTimeout(r, 100)).then(() => deliver(event)),
      ]);
      h.flxbl.configure({ faults: { latencyMs: 0 } });
      const later = await deliver(event);

      expect(a.statusCode).toBe(200);
      expect(b.statusCode).toBe(503);
      expect(Number(b.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(later).toEqual(a);
      expect(h.flxbl.stats().routes["PATCH /dynamic/Order/:id"]).toBe(1);
    });

    it("answers 503 when FLXBL stays unavailable past the retry budget, applies nothing, and applies a redelivery once", async () => {
      const order = await newOrder();
      const event = stripeEvent("payment_intent.succeeded", paymentIntent(order.id));
      h.flxbl.configure({ faults: { errorBurst: 50, errorStatus: 503 } });

      const failed = await deliver(event);
      h.flxbl.configure({ faults: { errorBurst: 0 } });
      const statusAfterFailure = (await readOrder(order.id)).status;
      const redelivered = await deliver(event);
      const again = await deliver(event);

      expect(failed.statusCode).toBe(503);
      expect(failed.headers["retry-after"]).toMatch(/^\d+$/);
      expect(statusAfterFailure).toBe("pending");
      expect(redelivered.json).toMatchObject({ status: "applied" });
      expect(again).toEqual(redelivered);
      expect((await readOrder(order.id)).status).toBe("paid");
    });

    it("answers 503 with FLXBL's Retry-After when FLXBL throttles past the retry budget", async () => {
      const order = await newOrder();
      h.flxbl.configure({ faults: { rateLimitBurst: 50, rateLimitBurstRetryAfter: 1 } });
      const res = await deliver(stripeEvent("payment_intent.succeeded", paymentIntent(order.id)));
      h.flxbl.configure({ faults: { rateLimitBurst: 0 } });
      expect(res.statusCode).toBe(503);
      expect(res.headers["retry-after"]).toBe("1");
      expect((await readOrder(order.id)).status).toBe("pending");
    });
  });

  describe("trust at the edges", () => {
    it("refuses a known event id with a different payload (409), instead of replaying the stored answer", async () => {
      const order = await newOrder();
      const event = stripeEvent("payment_intent.succeeded", paymentIntent(order.id));
      await deliver(event);
      const other = await newOrder();
      const forged = { ...event, data: { object: paymentIntent(other.id) } };

      const res = await deliver(forged);

      expect(res.statusCode).toBe(409);
      expect(res.json).toEqual({ message: "this event id was already received with a different payload" });
      expect(await readOrder(other.id)).toMatchObject({ status: "pending" });
    });

    it("ignores Stripe test-mode events in the prod stage, and applies them in any other", async () => {
      const prod = await h.load(spec, fn, { APP_STAGE: "prod" });
      const order = await newOrder();
      const test = stripeEvent("payment_intent.succeeded", paymentIntent(order.id));
      const body = JSON.stringify(test);

      const inProd = await h.post(prod, spec, { headers: signed(body), body });
      const live = { ...test, id: `evt_${randomUUID().replaceAll("-", "")}`, livemode: true };
      const liveBody = JSON.stringify(live);
      const liveInProd = await h.post(prod, spec, { headers: signed(liveBody), body: liveBody });

      expect(inProd.json).toMatchObject({ status: "ignored", reason: expect.stringMatching(/test-mode/) });
      expect(liveInProd.json).toMatchObject({ status: "applied", to: "paid" });
      // The suite's handler runs without APP_STAGE=prod and applies test-mode events (all the other tests).
    });

    it("answers 503 with the generic body when no signing secret is configured, and logs why", async () => {
      const bare = await h.provision(spec, []);
      const unconfigured = await h.load(spec, bare);
      const body = JSON.stringify(stripeEvent("payment_intent.succeeded", paymentIntent("node_x")));

      const res = await h.post(unconfigured, spec, { headers: signed(body), body });

      expect(res.statusCode).toBe(503);
      expect(res.headers["retry-after"]).toBe("60");
      expect(res.json).toEqual({ message: "Temporarily unavailable, retry later", requestId: expect.any(String) });
      expect(JSON.stringify(res.json)).not.toMatch(/secret|signing|configured/i);
    });

    it("refuses signing secrets shorter than 24 bytes, and keeps verifying with the long ones", async () => {
      const short = "whsec_tooshort";
      const mixed = await h.provision(spec, [short, secret]);
      const withShort = await h.load(spec, mixed);
      const order = await newOrder();
      const body = JSON.stringify(stripeEvent("payment_intent.succeeded", paymentIntent(order.id)));

      const signedShort = await h.post(withShort, spec, { headers: signed(body, { secret: short }), body });
      const signedLong = await h.post(withShort, spec, { headers: signed(body, { secret }), body });

      expect(signedShort.statusCode).toBe(401);
      expect(signedLong.statusCode).toBe(200);
      const onlyShort = await h.load(spec, await h.provision(spec, [short]));
      expect((await h.post(onlyShort, spec, { headers: signed(body, { secret: short }), body })).statusCode).toBe(503);
      // Put the suite's secret back for the tests after this one.
      fn = await h.provision(spec, [secret]);
      handler = await h.load(spec, fn);
    });
  });

  describe("order state machine", () => {
    it("answers a refund that arrives before its payment 503, applies it once the payment is in, and never moves it back", async () => {
      const order = await newOrder();
      const pi = paymentIntent(order.id);
      const created = Math.floor(Date.now() / 1000);
      const refund = stripeEvent("charge.refunded", charge(order.id, pi.id), created + 5);
      const success = stripeEvent("payment_intent.succeeded", pi, created);

      const early = await deliver(refund);
      const paid = await deliver(success);
      const redelivered = await deliver(refund);
      const late = await deliver(success);

      expect(early.statusCode).toBe(503);
      expect(early.headers["retry-after"]).toBe("30");
      expect(paid.json).toMatchObject({ status: "applied", to: "paid" });
      expect(redelivered.json).toMatchObject({ status: "applied", from: "paid", to: "refunded" });
      expect(late.json).toMatchObject({ status: "applied", to: "paid" });
      expect(await readOrder(order.id)).toMatchObject({ status: "refunded", paymentReference: pi.id });
    });

    it("refunds only the payment recorded on the order, for the order's amount", async () => {
      const order = await newOrder();
      const pi = paymentIntent(order.id);
      await deliver(stripeEvent("payment_intent.succeeded", pi));

      // A charge of another PaymentIntent naming this order in its metadata, then one for another amount.
      const otherPayment = await deliver(stripeEvent("charge.refunded", charge(order.id, "pi_someone_else")));
      const otherAmount = await deliver(
        stripeEvent("charge.refunded", charge(order.id, pi.id, { amount: 100, amount_refunded: 100 })),
      );

      expect(otherPayment.json).toMatchObject({
        status: "unchanged",
        reason: expect.stringMatching(/not the payment/),
      });
      expect(otherAmount.json).toMatchObject({ status: "unchanged", reason: expect.stringMatching(/does not match/) });
      expect(await readOrder(order.id)).toMatchObject({ status: "paid", paymentReference: pi.id });
    });

    it("records a failed payment attempt on a pending order without changing its status", async () => {
      const order = await newOrder();
      const failedPi = paymentIntent(order.id, {
        status: "requires_payment_method",
        last_payment_error: { message: "Your card was declined.", code: "card_declined" },
      });
      const res = await deliver(stripeEvent("payment_intent.payment_failed", failedPi));
      expect(res.json).toMatchObject({ status: "applied" });
      expect(await readOrder(order.id)).toMatchObject({
        status: "pending",
        lastPaymentError: "Your card was declined.",
      });
    });

    it("leaves the order pending when the paid amount does not match its total", async () => {
      const order = await newOrder();
      const res = await deliver(stripeEvent("payment_intent.succeeded", paymentIntent(order.id, { amount: 100 })));
      expect(res.json).toMatchObject({ status: "unchanged" });
      expect((await readOrder(order.id)).status).toBe("pending");
    });

    it("keeps an order unchanged on a partial refund", async () => {
      const order = await newOrder({ status: "paid", paymentReference: "pi_partial" });
      const res = await deliver(
        stripeEvent("charge.refunded", charge(order.id, "pi_partial", { refunded: false, amount_refunded: 500 })),
      );
      expect(res.json).toMatchObject({ status: "unchanged" });
      expect((await readOrder(order.id)).status).toBe("paid");
    });
  });
  describe("round trips, counted at the local endpoints", () => {
    it("costs 2 DynamoDB calls and 2 FLXBL calls per applied event, and 1 DynamoDB call (no FLXBL call) per replayed duplicate", async () => {
      const order = await newOrder();
      const event = stripeEvent("payment_intent.succeeded", paymentIntent(order.id));
      const counted = async () => {
        h.flxbl.resetStats();
        h.dynamodb.resetCalls();
        const res = await deliver(event);
        return { res, dynamodb: { ...h.dynamodb.calls }, flxbl: { ...h.flxbl.stats().routes } };
      };

      const applied = await counted();
      const duplicate = await counted();

      expect(applied.res.json).toMatchObject({ status: "applied" });
      // The idempotency record claimed with the order's lock; completed with the lock let go.
      expect(applied.dynamodb).toEqual({ TransactWriteItems: 2 });
      expect(applied.flxbl).toEqual({ "GET /dynamic/Order/:id": 1, "PATCH /dynamic/Order/:id": 1 });
      // Refused by the record's condition, answered from the item DynamoDB returns with the refusal.
      expect(duplicate.res).toEqual(applied.res);
      expect(duplicate.dynamodb).toEqual({ TransactWriteItems: 1 });
      expect(duplicate.flxbl).toEqual({});
    });
  });
});
