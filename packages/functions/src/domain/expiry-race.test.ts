import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type FaultProxy, startFaultProxy } from "@flxbl-lambda/aws-local";
import { createFlxblClient, type FlxblRecord, KeyedLock, RetryLaterError } from "@flxbl-lambda/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaymentEvent } from "../events.js";
import { expireStaleOrders, paymentsWebhook } from "../manifest.js";
import { Harness } from "../test-harness.js";
import type { Order } from "../types.js";
import { expireOrder } from "./expiry.js";
import { applyPaymentEvent } from "./payments.js";

/**
 * The race fault injection found: the expiry job's write to an order is slow to land (FLXBL
 * latency, retries) and outlasts its lock's lease, while a payment for the same order arrives.
 * Before the lease was renewed, the payment took the lapsed lock, marked the order paid and
 * answered 200, and the job's late write then expired a paid order.
 */
describe("expiring an order while its payment arrives, with the job's write delayed past its lock's lease", () => {
  let h: Harness;
  let slowFlxbl: FaultProxy;
  const leaseMs = 600;
  const writeDelayMs = 1_500;

  beforeAll(async () => {
    h = await Harness.start();
    slowFlxbl = await startFaultProxy(h.flxbl.origin);
    // Every order write the job makes reaches FLXBL 1.5 s late: well past a 0.6-s lease.
    slowFlxbl.delay((req) => req.method === "PATCH", writeDelayMs);
  });
  afterAll(async () => {
    await slowFlxbl.close();
    await h.close();
  });

  const keyFor = async (scopes: readonly string[]) =>
    (await h.admin<{ key: string }>("POST", "/api-keys", { name: `race/${randomUUID()}`, scopes })).key;
  const silent = { error: () => undefined };

  it("ends with every order paid, whatever the timing", async () => {
    const jobOrders = createFlxblClient({
      baseUrl: h.flxbl.url.replace(h.flxbl.origin, slowFlxbl.url),
      apiKey: await keyFor(expireStaleOrders.scopes),
    }).entity<Order>("Order");
    const payOrders = createFlxblClient({
      baseUrl: h.flxbl.url,
      apiKey: await keyFor(paymentsWebhook.scopes),
    }).entity<Order>("Order");
    const jobLock = new KeyedLock({ tableName: h.tableName, namespaces: expireStaleOrders.locks, leaseMs });
    const payLock = new KeyedLock({ tableName: h.tableName, namespaces: paymentsWebhook.locks, waitMs: 300 });

    const race = async () => {
      const order = await h.admin<FlxblRecord<Order>>("POST", "/dynamic/Order", {
        number: `ORD-${randomUUID().slice(0, 8)}`,
        status: "pending",
        total: 2500,
        currency: "eur",
      });
      const expiring = expireOrder(jobOrders, jobLock, order, {
        fetchedAt: Date.now(),
        params: {},
        cutoff: new Date(Date.now() + 60_000).toISOString(),
        now: () => new Date(),
        logger: silent,
      });
      await sleep(100);
      const event: PaymentEvent = {
        id: `evt_${randomUUID()}`,
        object: "event",
        type: "payment_intent.succeeded",
        created: Math.floor(Date.now() / 1000),
        data: {
          object: {
            id: `pi_${randomUUID()}`,
            object: "payment_intent",
            amount: 2500,
            currency: "eur",
            metadata: { orderId: order.id },
          },
        },
      };
      // A sender that tries again whenever it is told to (503 + Retry-After from a busy lock).
      let outcome: Awaited<ReturnType<typeof applyPaymentEvent>> | undefined;
      for (let attempt = 0; !outcome && attempt < 50; attempt++) {
        outcome = await applyPaymentEvent(payOrders, payLock, event).catch(async (err: unknown) => {
          if (!(err instanceof RetryLaterError)) throw err;
          await sleep(100);
          return undefined;
        });
      }
      return { id: order.id, job: await expiring, payment: outcome };
    };

    const results = await Promise.all(Array.from({ length: 5 }, race));
    const finals = await Promise.all(results.map((r) => h.admin<Order>("GET", `/dynamic/Order/${r.id}`)));

    expect(results.map((r) => r.job)).toEqual(Array(5).fill("changed"));
    expect(results.map((r) => r.payment)).toEqual(
      results.map(() => expect.objectContaining({ status: "applied", from: "expired", to: "paid" })),
    );
    expect(finals.map((o) => o.status)).toEqual(Array(5).fill("paid"));
    expect(finals.every((o) => typeof o.paymentReference === "string")).toBe(true);
  });

  it("puts back and reports an order its expiry finds paid by a writer that ignored the lock", async () => {
    const jobOrders = createFlxblClient({
      baseUrl: h.flxbl.url.replace(h.flxbl.origin, slowFlxbl.url),
      apiKey: await keyFor(expireStaleOrders.scopes),
    }).entity<Order>("Order");
    const order = await h.admin<FlxblRecord<Order>>("POST", "/dynamic/Order", {
      number: `ORD-${randomUUID().slice(0, 8)}`,
      status: "pending",
      total: 2500,
      currency: "eur",
    });
    const errors: Array<Record<string, unknown>> = [];

    const expiring = expireOrder(jobOrders, new KeyedLock({ tableName: h.tableName }), order, {
      fetchedAt: Date.now(),
      params: {},
      cutoff: new Date(Date.now() + 60_000).toISOString(),
      now: () => new Date(),
      logger: { error: (_message: string, attributes: Record<string, unknown>) => errors.push(attributes) },
    });
    // While the job's write is on its way, something writes the payment without taking the lock.
    await sleep(200);
    await h.admin("PATCH", `/dynamic/Order/${order.id}`, { status: "paid", paymentReference: "pi_rogue" });
    await expiring;

    expect(await h.admin<Order>("GET", `/dynamic/Order/${order.id}`)).toMatchObject({
      status: "paid",
      paymentReference: "pi_rogue",
    });
    expect(errors).toEqual([
      expect.objectContaining({
        invariantViolation: "order-expired-with-payment",
        orderId: order.id,
        restored: "paid",
      }),
    ]);
  });
});
