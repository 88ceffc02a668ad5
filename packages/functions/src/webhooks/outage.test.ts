import { randomUUID } from "node:crypto";
import { PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type FaultProxy, startFaultProxy } from "@flxbl-lambda/aws-local";
import { type JobSummary, lambdaContext, scheduledEvent } from "@flxbl-lambda/core";
import Stripe from "stripe";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { expireStaleOrders, paymentsWebhook as spec } from "../manifest.js";
import { Harness, type LambdaHandler, newSigningSecret, type Provisioned } from "../test-harness.js";
import type { Order } from "../types.js";

const stripe = new Stripe("sk_test_not_used_for_api_calls");

/**
 * Outages of the AWS services a function depends on, injected by a proxy in front of the local
 * Secrets Manager endpoint and dynalite: refused, reset and hung connections, before and in the
 * middle of a request. Whatever fails, a webhook answers 503 with Retry-After (never 500), nothing
 * is lost and nothing is applied twice; a warm function rides out a Secrets Manager outage.
 */
describe("payments webhook and expiry job when Secrets Manager or DynamoDB fail", () => {
  let h: Harness;
  let sm: FaultProxy;
  let ddb: FaultProxy;
  let fn: Provisioned;
  let secret: string;
  /** Lines the functions logged (Powertools writes JSON lines to stdout). */
  let lines: string[] = [];

  const newOrder = () =>
    h.admin<Order & { id: string }>("POST", "/dynamic/Order", {
      number: `ORD-${randomUUID().slice(0, 8)}`,
      status: "pending",
      total: 2500,
      currency: "eur",
    });
  const readOrder = (id: string) => h.admin<Order & { id: string; updatedAt: string }>("GET", `/dynamic/Order/${id}`);
  const succeeded = (orderId: string) => ({
    id: `evt_${randomUUID().replaceAll("-", "")}`,
    object: "event",
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    type: "payment_intent.succeeded",
    data: {
      object: {
        id: `pi_${randomUUID().replaceAll("-", "").slice(0, 24)}`,
        object: "payment_intent",
        amount: 2500,
        currency: "eur",
        metadata: { orderId },
      },
    },
  });
  const deliver = (
    handler: LambdaHandler,
    event: unknown,
    options: { secret?: string; timeoutSeconds?: number } = {},
  ) => {
    const body = JSON.stringify(event);
    const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret: options.secret ?? secret });
    return h.post(handler, spec, {
      headers: { "stripe-signature": header },
      body,
      timeoutSeconds: options.timeoutSeconds,
    });
  };
  const timed = async <T>(work: () => Promise<T>) => {
    const started = performance.now();
    const result = await work();
    return { result, ms: performance.now() - started };
  };
  /** A cold start (its AWS SDK calls go through the proxies: see beforeAll). */
  const load = (env: Record<string, string> = {}, provisioned = fn) => h.load(spec, provisioned, env);

  beforeAll(async () => {
    h = await Harness.start();
    sm = await startFaultProxy(h.secretsManager.url);
    ddb = await startFaultProxy(h.dynamodb.url);
    // The SDK reads its endpoint when it sends, so the whole file talks to AWS through the proxies.
    vi.stubEnv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.url);
    vi.stubEnv("AWS_ENDPOINT_URL_DYNAMODB", ddb.url);
    secret = newSigningSecret();
    fn = await h.provision(spec, [secret]);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await Promise.all([sm.close(), ddb.close()]);
    await h.close();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    lines = [];
    await Promise.all([sm.set("pass"), ddb.set("pass")]);
  });
  /** Collects the functions' JSON log lines (Powertools writes ERROR and WARN to stderr, the rest to stdout). */
  const captureLogs = () => {
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
        const text = String(chunk);
        if (!text.startsWith("{")) return write(chunk, ...(rest as []));
        lines.push(text);
        return true;
      });
    }
  };

  describe.each(["hang", "refuse", "reset"] as const)("DynamoDB %s", (mode) => {
    it("answers 503 with Retry-After within about 2 s, applies nothing, and applies the redelivery once", async () => {
      const handler = await load();
      await deliver(handler, succeeded((await newOrder()).id)); // warm
      const order = await newOrder();
      const event = succeeded(order.id);
      await ddb.set(mode);

      const during = await timed(() => deliver(handler, event));
      const untouched = await readOrder(order.id);
      await ddb.set("pass");
      const redelivered = await deliver(handler, event);
      const applied = await readOrder(order.id);
      const again = await deliver(handler, event);

      expect(during.result.statusCode).toBe(503);
      expect(during.result.headers["retry-after"]).toMatch(/^\d+$/);
      expect(during.ms).toBeLessThan(3_000);
      expect(untouched.status).toBe("pending");
      expect(redelivered.json).toMatchObject({ status: "applied", to: "paid" });
      expect(again.json).toEqual(redelivered.json);
      expect((await readOrder(order.id)).updatedAt).toBe(applied.updatedAt);
    });
  });

  it("answers 503, not 500, when DynamoDB fails after the change was applied, logs the original error, and applies nothing twice", async () => {
    const handler = await load();
    await deliver(handler, succeeded((await newOrder()).id)); // warm
    const order = await newOrder();
    const event = succeeded(order.id);
    captureLogs();
    // The idempotency record and the order's lock taken in one call: then DynamoDB goes away
    // before the result is saved and the lock let go (the same call).
    await ddb.failAfter(1, "reset");

    const first = await deliver(handler, event, { timeoutSeconds: 3 });
    const applied = await readOrder(order.id);
    await ddb.set("pass");
    // The in-progress record (it could not be deleted) lasts the invocation's 3 s, the order's
    // lock (it could not be let go) its 10 s lease; then the redelivery runs.
    const early = await deliver(handler, event);
    let redelivered = early;
    for (const started = Date.now(); redelivered.statusCode === 503 && Date.now() - started < 12_000; ) {
      await new Promise((r) => setTimeout(r, 500));
      redelivered = await deliver(handler, event);
    }

    expect(first.statusCode).toBe(503);
    expect(first.json).toEqual({ message: "Temporarily unavailable, retry later", requestId: expect.any(String) });
    expect(applied).toMatchObject({ status: "paid" });
    const log = lines.join("");
    expect(log).toContain("could not release the event's in-progress idempotency record");
    expect(log).toContain("IdempotencyPersistenceLayerError");
    expect(early.statusCode).toBe(503);
    expect(redelivered.json).toMatchObject({ status: "unchanged", reason: "already paid by this payment" });
    expect((await readOrder(order.id)).updatedAt).toBe(applied.updatedAt);
  });

  it.each(["hang", "refuse"] as const)(
    "answers a cold start 503 within about 2 s when Secrets Manager is %s",
    async (mode) => {
      await sm.set(mode);
      const handler = await load();

      const { result, ms } = await timed(() => deliver(handler, succeeded("node_any")));

      expect(result.statusCode).toBe(503);
      expect(result.headers["retry-after"]).toMatch(/^\d+$/);
      expect(ms).toBeLessThan(3_000);
    },
  );

  describe("Secrets Manager down after a warm start (TTL 1 s)", () => {
    it("keeps answering 2xx through the max-stale window, and bounds reads during a flood of forged requests", async () => {
      const handler = await load({ FLXBL_SECRET_TTL_SECONDS: "1", FLXBL_SECRET_MAX_STALE_SECONDS: "60" });
      await deliver(handler, succeeded((await newOrder()).id)); // warm
      await sm.set("hang");
      await new Promise((r) => setTimeout(r, 1_200));

      // Across several backoff expiries: each starts a read that hangs while later calls (the
      // signature check, then the FLXBL client) need the key.
      const statuses = [];
      for (let i = 0; i < 8; i++) {
        statuses.push((await deliver(handler, succeeded((await newOrder()).id))).statusCode);
        await new Promise((r) => setTimeout(r, 400));
      }
      const readsBefore = sm.requests.hang;
      const forged = [];
      for (let i = 0; i < 50; i++)
        forged.push((await deliver(handler, succeeded("node_x"), { secret: newSigningSecret() })).statusCode);
      const readsDuringFlood = sm.requests.hang - readsBefore;

      expect(statuses).toEqual(Array(8).fill(200));
      expect(forged.every((s) => s === 401)).toBe(true);
      expect(readsDuringFlood).toBeLessThanOrEqual(3);
    });

    it("recovers without a restart when Secrets Manager is back: a secret rolled meanwhile is picked up", async () => {
      const handler = await load({ FLXBL_SECRET_TTL_SECONDS: "1", FLXBL_SECRET_MAX_STALE_SECONDS: "60" });
      await deliver(handler, succeeded((await newOrder()).id));
      await sm.set("refuse");
      await new Promise((r) => setTimeout(r, 1_200));
      expect((await deliver(handler, succeeded((await newOrder()).id))).statusCode).toBe(200);
      // The sender rolls its secret while the function cannot read it (written straight to the endpoint).
      const rolled = newSigningSecret();
      await new SecretsManagerClient({ endpoint: h.secretsManager.url }).send(
        new PutSecretValueCommand({
          SecretId: fn.secretId,
          SecretString: JSON.stringify({ apiKey: fn.apiKey, signingSecrets: [rolled, secret] }),
        }),
      );
      await sm.set("pass");

      // The next reads happen in the background of later requests, after the backoff (1 s, then 2 s).
      let status = 0;
      for (let i = 0; i < 40 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await deliver(handler, succeeded((await newOrder()).id), { secret: rolled })).statusCode;
      }

      expect(status).toBe(200);
    });

    it("keeps answering 2xx when the secret's new value is malformed", async () => {
      const handler = await load({ FLXBL_SECRET_TTL_SECONDS: "1" });
      await deliver(handler, succeeded((await newOrder()).id));
      await new SecretsManagerClient({ endpoint: h.secretsManager.url }).send(
        new PutSecretValueCommand({ SecretId: fn.secretId, SecretString: '{"apiKey": "flxbl_' }),
      );
      await new Promise((r) => setTimeout(r, 1_200));

      const res = await deliver(handler, succeeded((await newOrder()).id));

      expect(res.statusCode).toBe(200);
      fn = await h.provision(spec, [secret]);
    });

    it("answers 503 once the max-stale window has passed", async () => {
      const handler = await load({ FLXBL_SECRET_TTL_SECONDS: "1", FLXBL_SECRET_MAX_STALE_SECONDS: "1" });
      await deliver(handler, succeeded((await newOrder()).id));
      await sm.set("refuse");
      await new Promise((r) => setTimeout(r, 2_200));

      const res = await deliver(handler, succeeded((await newOrder()).id));

      expect(res.statusCode).toBe(503);
    });

    it("lets a job run complete on its cached key", async () => {
      const job = await h.provision(expireStaleOrders);
      const handler = await h.load(expireStaleOrders, job, { FLXBL_SECRET_TTL_SECONDS: "1" });
      const run = () =>
        handler(
          scheduledEvent(expireStaleOrders.name),
          lambdaContext({ functionName: expireStaleOrders.name, timeoutSeconds: 30 }),
        ) as Promise<JobSummary>;
      await run();
      await sm.set("hang");
      await new Promise((r) => setTimeout(r, 1_200));

      const summary = await run();

      expect(summary).toMatchObject({ complete: true, failed: 0 });
    });
  });
});
