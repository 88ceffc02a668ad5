import { randomUUID } from "node:crypto";
import {
  captureMetrics,
  type EmfDocument,
  emfMetrics,
  type JobSummary,
  lambdaContext,
  metricNames,
  scheduledEvent,
} from "@flxbl-lambda/core";
import Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { expireStaleOrders, paymentsWebhook } from "./manifest.js";
import { Harness, type LambdaHandler, newSigningSecret, paymentSucceeded } from "./test-harness.js";

/** The writes to stdout that carried EMF documents during the last {@link emfOf}. */
let emfWrites = 0;

/** Runs `fn` and returns the EMF documents written to stdout meanwhile. */
async function emfOf(fn: () => Promise<unknown>): Promise<EmfDocument[]> {
  const { documents, writes } = await captureMetrics(fn);
  emfWrites = writes;
  return documents;
}

const read = emfMetrics;

const stripe = new Stripe("sk_test_not_used_for_api_calls");
const dayMs = 24 * 3600 * 1000;

/** `n` pending orders created two days ago, for the expiry job to expire. */
const staleOrders = (n: number) => {
  const createdAt = new Date(Date.now() - 2 * dayMs).toISOString();
  return Array.from({ length: n }, (_, i) => ({
    id: `node_${randomUUID()}`,
    number: `ORD-S${i}`,
    status: "pending",
    total: 100,
    currency: "eur",
    createdAt,
  }));
};

describe("metrics a webhook invocation and a job run write (CloudWatch EMF, one flush per invocation)", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("payments webhook: received/applied, FLXBL calls by operation, then a replay, a bad signature and an outage", async () => {
    h = await Harness.start();
    const harness = h;
    const secret = newSigningSecret();
    const fn = await harness.provision(paymentsWebhook, [secret]);
    // As Lambda sets them for an on-demand cold start.
    const handler = await harness.load(paymentsWebhook, fn, { AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand" });
    const order = await harness.admin<{ id: string }>("POST", "/dynamic/Order", {
      number: "ORD-M1",
      status: "pending",
      total: 2500,
      currency: "eur",
    });
    const event = paymentSucceeded(order.id);
    const body = JSON.stringify(event);
    const deliver = (payload: string, signedBody = payload) =>
      harness.post(handler, paymentsWebhook, {
        headers: { "stripe-signature": stripe.webhooks.generateTestHeaderString({ payload: signedBody, secret }) },
        body: payload,
      });

    // The first delivery: a cold start, the event applied with a read and an update of the order.
    let status = 0;
    const first = await emfOf(async () => {
      status = (await deliver(body)).statusCode;
    });
    expect(status).toBe(200);
    const docs = first.map(read);
    for (const d of docs) expect(d.namespace).toBe("flxbl-lambda");
    const cold = docs.filter((d) => "ColdStart" in d.metrics);
    expect(cold).toHaveLength(1);
    // The cold start (Powertools writes it at once), then the invocation's three documents in one write.
    expect(emfWrites).toBe(2);
    expect(cold[0]?.dimensions).toEqual(["function_name", "service", "stage"]);
    expect(first.find((d) => "ColdStart" in d)).toMatchObject({ function_name: paymentsWebhook.name, ColdStart: 1 });
    const [main, ...byOperation] = docs.filter((d) => !("ColdStart" in d.metrics));
    expect(main?.dimensions).toEqual(["service", "stage"]);
    expect(first.find((d) => metricNames.webhook.received in d)).toMatchObject({
      service: paymentsWebhook.name,
      stage: "test",
    });
    expect(main?.metrics).toMatchObject({
      [metricNames.webhook.received]: 1,
      [metricNames.webhook.applied]: 1,
      [metricNames.flxbl.calls]: 2,
      [metricNames.flxbl.retries]: 0,
      [metricNames.flxbl.throttled]: 0,
      [metricNames.flxbl.errors]: 0,
    });
    expect(main?.metrics).not.toHaveProperty(metricNames.webhook.replayed);
    expect(main?.units[metricNames.flxbl.latency]).toBe("Milliseconds");
    const latencies = [main?.metrics[metricNames.flxbl.latency]].flat() as number[];
    expect(latencies).toHaveLength(2);
    for (const ms of latencies) expect(ms).toBeGreaterThan(0);
    // One more document per FLXBL operation, with its dimension.
    expect(byOperation.map((d) => d.dimensions)).toEqual([
      ["operation", "service", "stage"],
      ["operation", "service", "stage"],
    ]);
    const operations = first.filter((d) => "operation" in d).map((d) => [d.operation, d[metricNames.flxbl.calls]]);
    expect(operations.sort()).toEqual([
      ["Order:read", 1],
      ["Order:update", 1],
    ]);

    // The same delivery again: answered from its idempotency record, no FLXBL call, no cold start.
    const replay = (await emfOf(() => deliver(body))).map(read);
    expect(replay).toHaveLength(1);
    expect(emfWrites).toBe(1);
    expect(replay[0]?.metrics).toEqual({ [metricNames.webhook.received]: 1, [metricNames.webhook.replayed]: 1 });

    // A tampered body: refused by its signature, counted with the reason; both documents in one write.
    const refused = await emfOf(() => deliver(body.replace("2500", "1"), body));
    expect(emfWrites).toBe(1);
    expect(refused.map((d) => read(d).metrics)).toEqual([
      {
        [metricNames.webhook.received]: 1,
        [metricNames.webhook.clientErrors]: 1,
        [metricNames.webhook.signatureRejected]: 1,
      },
      { [metricNames.webhook.signatureRejected]: 1 },
    ]);
    expect(refused[1]).toMatchObject({ reason: "no matching signature", service: paymentsWebhook.name });

    // The same payment again under a new id: valid, changes nothing. A type the webhook does not handle: ignored.
    const again = JSON.stringify({ ...event, id: `evt_${randomUUID().replaceAll("-", "")}` });
    const unchanged = (await emfOf(() => deliver(again))).map(read);
    expect(unchanged[0]?.metrics).toMatchObject({
      [metricNames.webhook.received]: 1,
      [metricNames.webhook.unchanged]: 1,
    });
    const other = JSON.stringify({ ...event, id: `evt_${randomUUID().replaceAll("-", "")}`, type: "customer.created" });
    const ignored = (await emfOf(() => deliver(other))).map(read);
    expect(ignored[0]?.metrics).toEqual({ [metricNames.webhook.received]: 1, [metricNames.webhook.ignored]: 1 });

    // FLXBL throttling then failing: 429s and retries counted, the sender told to retry (503).
    harness.flxbl.configure({ faults: { rateLimitBurst: 1, errorBurst: 0 } });
    const throttledEvent = JSON.stringify({ ...event, id: `evt_${randomUUID().replaceAll("-", "")}` });
    const throttled = (await emfOf(() => deliver(throttledEvent))).map(read);
    expect(throttled[0]?.metrics).toMatchObject({
      [metricNames.webhook.received]: 1,
      [metricNames.flxbl.throttled]: 1,
      [metricNames.flxbl.retries]: 1,
    });
    harness.flxbl.configure({ faults: { rateLimitBurst: 0, errorBurst: 100 } });
    const outage = JSON.stringify({ ...event, id: `evt_${randomUUID().replaceAll("-", "")}` });
    let outageStatus = 0;
    const failed = (
      await emfOf(async () => {
        outageStatus = (await deliver(outage)).statusCode;
      })
    ).map(read);
    expect(outageStatus).toBe(503);
    expect(failed[0]?.metrics).toMatchObject({
      [metricNames.webhook.received]: 1,
      [metricNames.webhook.serverErrors]: 1,
      [metricNames.flxbl.errors]: 1,
    });
  });

  it("expire-stale-orders: a run cut short by its deadline is incomplete, and the next one completes it", async () => {
    const stale = staleOrders(600);
    h = await Harness.start({ seed: { records: { Order: stale } }, faults: { latencyMs: 25 } });
    const fn = await h.provision(expireStaleOrders);
    const handler: LambdaHandler = await h.load(expireStaleOrders, fn, { PENDING_ORDER_MAX_AGE: "PT24H" });
    const run = (timeoutSeconds: number) =>
      emfOf(() =>
        handler(
          scheduledEvent(expireStaleOrders.name),
          lambdaContext({ functionName: expireStaleOrders.name, timeoutSeconds }),
        ),
      );

    const cut = (await run(3)).map(read).find((d) => metricNames.job.runs in d.metrics);
    expect(cut?.metrics).toMatchObject({ [metricNames.job.runs]: 1, [metricNames.job.incomplete]: 1 });
    expect(cut?.metrics).not.toHaveProperty(metricNames.job.complete);
    const rest = (await run(expireStaleOrders.timeoutSeconds)).map(read).find((d) => metricNames.job.runs in d.metrics);
    expect(rest?.metrics).toMatchObject({ [metricNames.job.runs]: 1, [metricNames.job.complete]: 1 });
    const changed = [cut, rest].reduce((n, d) => n + Number(d?.metrics[metricNames.job.changed] ?? 0), 0);
    expect(changed).toBe(600);
  });

  it("expire-stale-orders: one run's records scanned and changed, seconds, complete, FLXBL calls", async () => {
    const stale = staleOrders(5);
    h = await Harness.start({ seed: { records: { Order: stale } } });
    const fn = await h.provision(expireStaleOrders);
    const handler: LambdaHandler = await h.load(expireStaleOrders, fn, { PENDING_ORDER_MAX_AGE: "PT24H" });

    let summary: JobSummary | undefined;
    const docs = await emfOf(async () => {
      summary = (await handler(
        scheduledEvent(expireStaleOrders.name),
        lambdaContext({ functionName: expireStaleOrders.name, timeoutSeconds: expireStaleOrders.timeoutSeconds }),
      )) as JobSummary;
    });
    expect(summary).toMatchObject({ complete: true, scanned: 5, changed: 5 });
    const main = docs.map(read).find((d) => metricNames.job.runs in d.metrics);
    expect(main?.dimensions).toEqual(["service", "stage"]);
    expect(main?.metrics).toMatchObject({
      [metricNames.job.runs]: 1,
      [metricNames.job.scanned]: 5,
      [metricNames.job.changed]: 5,
      [metricNames.job.failed]: 0,
      [metricNames.job.throttled]: 0,
      [metricNames.job.complete]: 1,
      // A query for the page, one update per order (the empty second page ends the run).
      [metricNames.flxbl.calls]: (summary?.pages ?? 0) + 5,
    });
    expect(main?.metrics).not.toHaveProperty(metricNames.job.incomplete);
    expect(main?.metrics).not.toHaveProperty(metricNames.job.errors);
    expect(main?.units[metricNames.job.seconds]).toBe("Seconds");
    expect(main?.metrics[metricNames.job.seconds]).toBeCloseTo((summary?.durationMs ?? 0) / 1000, 3);
    const service = docs.find((d) => metricNames.job.runs in d);
    expect(service).toMatchObject({ service: expireStaleOrders.name, stage: "test" });
    const byOperation = Object.fromEntries(
      docs.filter((d) => "operation" in d).map((d) => [d.operation, d[metricNames.flxbl.calls]]),
    );
    expect(byOperation["Order:update"]).toBe(5);
    expect(byOperation["Order:read"]).toBeGreaterThanOrEqual(1);
  });
});
