import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { FunctionSpec } from "@flxbl-lambda/core";
import { Webhook } from "standardwebhooks";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inventoryWebhook, paymentsWebhook } from "../manifest.js";
import { Harness, type LambdaHandler, newSigningSecret } from "../test-harness.js";
import type { Order, OrderStatus, Product } from "../types.js";

const stripe = new Stripe("sk_test_not_used_for_api_calls");

/** Fixed, so a failing interleaving of deliveries can be replayed. */
const seed = 20_240_611;
const copiesPerEvent = 4;
/** A real sender waits `Retry-After` (1 s for a duplicate in progress); the test waits at most this. */
const maxRedeliveryDelayMs = 250;
const maxAttemptsPerDelivery = 60;
/**
 * Requests in flight at once. In AWS each would be its own Lambda; here the handlers, the emulator
 * and dynalite share one event loop: with all 200 at once, first executions took 5-7 s and some
 * hit the function's timeout, which measures this machine rather than the code.
 */
const inFlight = 20;
const runBudgetMs = 15_000;

/** mulberry32: a small seeded PRNG, so the shuffle and the quantities are the same on every run. */
function prng(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
/** At most `size` holders at once; the others wait in line. */
function semaphore(size: number) {
  let free = size;
  const waiting: (() => void)[] = [];
  return {
    acquire: async () => {
      if (free > 0) free--;
      else await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release: () => {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}
function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

interface RecordedWrite {
  entity: string;
  id: string;
  body: Record<string, unknown>;
}

/**
 * A pass-through HTTP proxy in front of the emulator that records every successful PATCH with
 * its record id and body, in the order FLXBL answered them. The emulator's stats count PATCHes
 * per route only; this counts them per record and shows the order of writes to each.
 */
async function startRecordingProxy(upstreamOrigin: string) {
  const writes: RecordedWrite[] = [];
  const dropped = new Set(["host", "connection", "keep-alive", "content-length", "transfer-encoding"]);
  const relay = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !dropped.has(name)) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const upstream = await fetch(`${upstreamOrigin}${req.url}`, {
      method: req.method,
      headers,
      body: body.length > 0 ? body : undefined,
    });
    const answer = Buffer.from(await upstream.arrayBuffer());
    if (req.method === "PATCH" && upstream.ok) {
      const [entity = "", id = ""] = (req.url ?? "").split("?")[0]?.split("/").slice(-2) ?? [];
      writes.push({ entity, id, body: JSON.parse(body.toString("utf8")) });
    }
    const out: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!dropped.has(name) && name !== "content-encoding") out[name] = value;
    });
    res.writeHead(upstream.status, out).end(answer);
  };
  const server = createServer((req, res) => {
    relay(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    writes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type PaymentKind = "succeeded" | "failed" | "refunded";
interface PlannedEvent {
  /** Stripe `id` or `webhook-id`: the idempotency key. */
  id: string;
  webhook: "payments" | "inventory";
  /** The FLXBL record the event is about. */
  recordId: string;
  body: string;
}
interface Attempt {
  statusCode: number;
  retryAfter: string | undefined;
}
interface DeliveryResult {
  event: PlannedEvent;
  attempts: Attempt[];
  final: { statusCode: number; json: any };
}

/** The card errors of the failed attempts; `declined` twice on one order records it once. */
const declined = { code: "card_declined", message: "Your card was declined." };
const insufficient = { code: "insufficient_funds", message: "Your card has insufficient funds." };

/**
 * Each order's events in the order Stripe created them. Failures before success, refunds after:
 * the final state follows from the state machine, whatever order the deliveries arrive in.
 */
const orderPlans: { kind: PaymentKind; error?: typeof declined }[][] = [
  [{ kind: "succeeded" }],
  [{ kind: "succeeded" }],
  [{ kind: "failed", error: declined }, { kind: "succeeded" }],
  [{ kind: "failed", error: insufficient }, { kind: "succeeded" }],
  [{ kind: "failed", error: declined }, { kind: "failed", error: insufficient }, { kind: "succeeded" }],
  [
    { kind: "failed", error: declined },
    { kind: "failed", error: declined },
  ],
  [{ kind: "succeeded" }, { kind: "refunded" }],
  [{ kind: "succeeded" }, { kind: "refunded" }],
  [{ kind: "succeeded" }, { kind: "refunded" }],
  [{ kind: "failed", error: declined }, { kind: "succeeded" }, { kind: "refunded" }],
  [{ kind: "failed", error: insufficient }, { kind: "succeeded" }, { kind: "refunded" }],
  [{ kind: "succeeded" }, { kind: "refunded" }],
];
const skuCount = 5;
const versionsPerSku = 5;

const statusRank: Record<OrderStatus, number> = { pending: 0, expired: 0, cancelled: 0, paid: 1, refunded: 2 };

describe("webhooks under concurrent, duplicated and reordered deliveries", () => {
  let h: Harness;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  const handlers = new Map<PlannedEvent["webhook"], { handler: LambdaHandler; spec: FunctionSpec; secret: string }>();
  const events: PlannedEvent[] = [];
  const products: { id: string; sku: string; versions: { version: number; quantity: number; timestamp: string }[] }[] =
    [];
  const orders: { id: string; plan: (typeof orderPlans)[number]; piId: string; created: number[] }[] = [];
  let results: DeliveryResult[] = [];
  let patchesInStats = 0;

  /** Signs afresh for each attempt, as both senders do on a redelivery. */
  const headersFor = (event: PlannedEvent, secret: string): Record<string, string> => {
    if (event.webhook === "payments")
      return { "stripe-signature": stripe.webhooks.generateTestHeaderString({ payload: event.body, secret }) };
    const now = new Date();
    return {
      "webhook-id": event.id,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(event.id, now, event.body),
    };
  };

  const slots = semaphore(inFlight);
  /** A sender: delivers until it gets an answer other than 503, waiting (shortened) Retry-After between. */
  const deliverUntilAnswered = async (event: PlannedEvent, random: () => number, giveUpAt: number) => {
    const target = handlers.get(event.webhook);
    if (!target) throw new Error(`no handler for ${event.webhook}`);
    const attempts: Attempt[] = [];
    for (;;) {
      await slots.acquire();
      const res = await h
        .post(target.handler, target.spec, { headers: headersFor(event, target.secret), body: event.body })
        .finally(() => slots.release());
      attempts.push({ statusCode: res.statusCode, retryAfter: res.headers["retry-after"] });
      if (res.statusCode !== 503 || attempts.length >= maxAttemptsPerDelivery || Date.now() > giveUpAt)
        return { event, attempts, final: { statusCode: res.statusCode, json: res.json } };
      const retryAfterMs = Number(res.headers["retry-after"] ?? 1) * 1000;
      await sleep(Math.min(retryAfterMs, maxRedeliveryDelayMs) * (0.5 + random() / 2));
    }
  };

  beforeAll(async () => {
    const random = prng(seed);
    h = await Harness.start();
    proxy = await startRecordingProxy(h.flxbl.origin);
    // Both functions reach FLXBL through the recording proxy; the test reads state directly.
    const env = {
      FLXBL_URL: `${proxy.origin}${new URL(h.flxbl.url).pathname}`,
      // ~300 invocations: their info lines would bury a failure's output.
      POWERTOOLS_LOG_LEVEL: "ERROR",
    };
    for (const [name, spec] of [
      ["payments", paymentsWebhook],
      ["inventory", inventoryWebhook],
    ] as const) {
      const secret = newSigningSecret();
      const handler = await h.load(spec, await h.provision(spec, [secret]), env);
      handlers.set(name, { handler, spec, secret });
    }

    const base = Math.floor(Date.now() / 1000) - 3600;
    for (let s = 0; s < skuCount; s++) {
      const product = await h.admin<Product & { id: string }>("POST", "/dynamic/Product", {
        sku: `CONC-${seed}-${s}`,
        name: `Product ${s}`,
        price: 10,
        stock: 0,
        lowStockThreshold: 1,
        active: true,
      });
      // Distinct quantities in a seeded order, so the newest is not simply the largest.
      const quantities = shuffle(
        Array.from({ length: versionsPerSku }, (_, i) => 10 * (i + 1) + s),
        random,
      );
      const versions = quantities.map((quantity, i) => ({
        version: i + 1,
        quantity,
        timestamp: new Date((base + i) * 1000).toISOString(),
      }));
      products.push({ id: product.id, sku: product.sku, versions });
      for (const v of versions) {
        events.push({
          id: `msg_conc_${s}_${v.version}`,
          webhook: "inventory",
          recordId: product.id,
          body: JSON.stringify({
            type: "inventory.updated",
            timestamp: v.timestamp,
            data: { sku: product.sku, quantity: v.quantity, version: v.version },
          }),
        });
      }
    }

    for (const [o, plan] of orderPlans.entries()) {
      const order = await h.admin<Order & { id: string }>("POST", "/dynamic/Order", {
        number: `CONC-${o}`,
        status: "pending",
        total: 2500,
        currency: "eur",
      });
      const piId = `pi_conc_${o}`;
      const created = plan.map((_, i) => base + 100 * o + 10 * i);
      orders.push({ id: order.id, plan, piId, created });
      for (const [i, step] of plan.entries()) {
        const paymentIntent = {
          id: piId,
          object: "payment_intent",
          amount: 2500,
          currency: "eur",
          status: step.kind === "failed" ? "requires_payment_method" : "succeeded",
          metadata: { orderId: order.id },
          last_payment_error: step.error ?? null,
        };
        const charge = {
          id: `ch_conc_${o}`,
          object: "charge",
          amount: 2500,
          amount_refunded: 2500,
          currency: "eur",
          refunded: true,
          payment_intent: piId,
          metadata: { orderId: order.id },
        };
        const type = {
          succeeded: "payment_intent.succeeded",
          failed: "payment_intent.payment_failed",
          refunded: "charge.refunded",
        }[step.kind];
        const id = `evt_conc_${o}_${i}`;
        events.push({
          id,
          webhook: "payments",
          recordId: order.id,
          body: JSON.stringify({
            id,
            object: "event",
            api_version: "2024-06-20",
            created: created[i],
            livemode: false,
            pending_webhooks: 1,
            request: { id: null, idempotency_key: null },
            type,
            data: { object: step.kind === "refunded" ? charge : paymentIntent },
          }),
        });
      }
    }

    h.flxbl.resetStats();
    const deliveries = shuffle(
      events.flatMap((event) => Array.from({ length: copiesPerEvent }, () => event)),
      random,
    );
    const started = Date.now();
    results = await Promise.all(deliveries.map((event) => deliverUntilAnswered(event, random, started + runBudgetMs)));
    const wallMs = Date.now() - started;
    patchesInStats = Object.entries(h.flxbl.stats().routes)
      .filter(([route]) => route.startsWith("PATCH "))
      .reduce((sum, [, n]) => sum + n, 0);

    const attempts = results.flatMap((r) => r.attempts);
    // Shown with a failing test of this file (test/quiet-output.ts).
    process.stdout.write(
      `concurrency run (seed ${seed}): ${events.length} events, ${results.length} deliveries, ` +
        `${attempts.length} attempts, ${attempts.filter((a) => a.statusCode === 503).length} answered 503, ` +
        `max ${Math.max(...results.map((r) => r.attempts.length))} attempts for one delivery, ` +
        `${proxy.writes.length} PATCHes, ${wallMs} ms\n`,
    );
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await h?.close();
  });

  it("200 deliveries of 50 distinct events (duplicates and reordering, sent concurrently) leave exactly the expected final state in the emulator", async () => {
    // Expected state, from the events alone: each SKU holds its highest version; each order's
    // status follows the state machine (refunded > paid > pending). Where a field depends on the
    // arrival order (a refund that lands before the success leaves paidAt unset), both are allowed.
    const expectedProducts = products.map((p) => {
      const newest = p.versions.reduce((a, b) => (b.version > a.version ? b : a));
      return { id: p.id, stock: newest.quantity, stockVersion: newest.version, stockUpdatedAt: newest.timestamp };
    });
    const expectedOrders = orders.map((o) => {
      const at = (kind: PaymentKind) => {
        const i = o.plan.findIndex((s) => s.kind === kind);
        return i < 0 ? undefined : new Date((o.created[i] as number) * 1000).toISOString();
      };
      const refundedAt = at("refunded");
      const paidAt = at("succeeded");
      const failures = o.plan.filter((s) => s.kind === "failed").map((s) => s.error?.message);
      const status: OrderStatus = refundedAt ? "refunded" : paidAt ? "paid" : "pending";
      return {
        id: o.id,
        status,
        paymentReference: status === "pending" ? null : o.piId,
        refundedAt: refundedAt ?? null,
        paidAt: status === "refunded" ? [null, paidAt] : [paidAt ?? null],
        lastPaymentError:
          status === "pending"
            ? [failures.at(-1)]
            : status === "paid" || failures.length === 0
              ? [null]
              : [null, ...failures],
      };
    });

    expect(
      expectedProducts.some((p, i) => p.stock < Math.max(...(products[i]?.versions ?? []).map((v) => v.quantity))),
    ).toBe(true); // the plan itself: "newest" and "largest" must differ somewhere, or the check proves less

    const storedProducts = await Promise.all(
      products.map((p) => h.admin<Product & { id: string }>("GET", `/dynamic/Product/${p.id}`)),
    );
    const storedOrders = await Promise.all(
      orders.map((o) => h.admin<Order & { id: string }>("GET", `/dynamic/Order/${o.id}`)),
    );

    expect(
      storedProducts.map((p) => ({
        id: p.id,
        stock: p.stock,
        stockVersion: p.stockVersion,
        stockUpdatedAt: new Date(p.stockUpdatedAt ?? 0).toISOString(),
      })),
    ).toEqual(expectedProducts);
    expect(
      storedOrders.map((o) => ({
        id: o.id,
        status: o.status,
        paymentReference: o.paymentReference ?? null,
        refundedAt: o.refundedAt ? new Date(o.refundedAt).toISOString() : null,
      })),
    ).toEqual(
      expectedOrders.map(({ id, status, paymentReference, refundedAt }) => ({
        id,
        status,
        paymentReference,
        refundedAt,
      })),
    );
    for (const [i, stored] of storedOrders.entries()) {
      const expected = expectedOrders[i];
      expect(expected?.paidAt).toContain(stored.paidAt ? new Date(stored.paidAt).toISOString() : null);
      expect(expected?.lastPaymentError).toContain(stored.lastPaymentError ?? null);
    }
  });

  it("ends every delivery in 200, each earlier attempt having been a 503 with Retry-After", () => {
    const finals = results.map((r) => r.final.statusCode);
    const earlier = results.flatMap((r) => r.attempts.slice(0, -1));

    expect(results).toHaveLength(events.length * copiesPerEvent);
    expect(new Set(events.map((e) => e.id)).size).toBe(50);
    expect(finals.filter((s) => s !== 200)).toEqual([]);
    expect(earlier.filter((a) => a.statusCode !== 503 || !/^\d+$/.test(a.retryAfter ?? ""))).toEqual([]);
  });

  it("answers every delivery of one event with the same response, the one recorded when it was applied", () => {
    const bodiesById = new Map<string, Set<string>>();
    for (const r of results) {
      const bodies = bodiesById.get(r.event.id) ?? new Set<string>();
      bodies.add(JSON.stringify(r.final.json));
      bodiesById.set(r.event.id, bodies);
    }

    const divergent = [...bodiesById].filter(([, bodies]) => bodies.size !== 1).map(([id]) => id);

    expect(bodiesById.size).toBe(50);
    expect(divergent).toEqual([]);
  });

  it("applies each event at most once: per record, one PATCH per event answered applied, never more PATCHes than events", () => {
    const outcomeById = new Map(results.map((r) => [r.event.id, r.final.json]));
    const perRecord = [...products.map((p) => p.id), ...orders.map((o) => o.id)].map((recordId) => {
      const own = events.filter((e) => e.recordId === recordId);
      return {
        recordId,
        patches: proxy.writes.filter((w) => w.id === recordId).length,
        applied: own.filter((e) => outcomeById.get(e.id)?.status === "applied").length,
        events: own.length,
      };
    });

    expect(perRecord.map(({ recordId, patches }) => ({ recordId, patches }))).toEqual(
      perRecord.map(({ recordId, applied }) => ({ recordId, patches: applied })),
    );
    expect(perRecord.filter((r) => r.patches > r.events || r.patches === 0)).toEqual([]);
    expect(proxy.writes.length).toBe(patchesInStats);
  });

  it("never writes an older stock version over a newer one, whatever the arrival order", () => {
    const versionsWritten = products.map((p) =>
      proxy.writes.filter((w) => w.id === p.id).map((w) => w.body.stockVersion as number),
    );

    const backwards = versionsWritten.filter((vs) => vs.some((v, i) => i > 0 && v <= (vs[i - 1] as number)));

    expect(versionsWritten.every((vs) => vs.length > 0)).toBe(true);
    expect(backwards).toEqual([]);
  });

  it("never moves an order's status backwards, whatever the arrival order", () => {
    const statusesWritten = orders.map((o) =>
      proxy.writes
        .filter((w) => w.id === o.id && typeof w.body.status === "string")
        .map((w) => statusRank[w.body.status as OrderStatus]),
    );

    const backwards = statusesWritten.filter((rs) => rs.some((r, i) => i > 0 && r < (rs[i - 1] as number)));

    expect(statusesWritten.flat().length).toBeGreaterThan(0);
    expect(backwards).toEqual([]);
  });
});
