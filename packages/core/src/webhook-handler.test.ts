import { randomBytes, randomUUID } from "node:crypto";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  ensureStateTable,
  type LocalDynamoDB,
  type LocalSecretsManager,
  startLocalDynamoDB,
  startLocalSecretsManager,
} from "@flxbl-lambda/aws-local";
import { type Emulator, startEmulator } from "@flxbl-lambda/emulator";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import * as z from "zod/mini";
import { appSchema } from "../../emulator/src/test-helpers.js";
import { SecretLoader } from "./keys/secret-loader.js";
import type { WebhookSpec } from "./manifest.js";
import { deliverWebhook } from "./testing/webhook-kit.js";
import { type WebhookHandlerContext, webhookHandler } from "./webhook-handler.js";
import { WebhookSignatureError } from "./webhooks/errors.js";
import { headerValue, hmacSha256, registerSignatureScheme, safeEqual } from "./webhooks/scheme.js";

/**
 * A scheme of a sender core knows nothing about, registered the way a user registers one (one
 * file of theirs): `X-Acme-Signature: <hex HMAC of the body>`, id and type in headers.
 */
const acme = registerSignatureScheme({
  name: "acme",
  signsTimestamp: false,
  signsEventId: false,
  verify(delivery, { secrets }) {
    const given = headerValue(delivery, "x-acme-signature");
    if (!given) throw new WebhookSignatureError("missing signature headers", "Acme sends X-Acme-Signature");
    return secrets.some((s) => safeEqual(Buffer.from(given, "hex"), hmacSha256(s, delivery.body)));
  },
  eventId: (delivery) => headerValue(delivery, "x-acme-delivery"),
  eventType: (delivery) => headerValue(delivery, "x-acme-event"),
  keyBytes: (secret) => Buffer.byteLength(secret),
  newSecret: () => randomBytes(32).toString("hex"),
  sign: (body, secret, { id, type }) => ({
    "x-acme-signature": hmacSha256(secret, body).toString("hex"),
    "x-acme-delivery": id,
    "x-acme-event": type,
  }),
  sampleBody: (_type, _id, data) => data,
});

const spec = {
  name: "acme-webhook",
  handler: "src/acme.handler",
  trigger: { kind: "http", method: "POST", path: "/webhooks/acme" },
  signature: acme.name,
  scopes: ["entity:Order:read"],
  locks: ["invoice"],
  timeoutSeconds: 10,
} as const satisfies WebhookSpec;

const events = {
  "invoice.paid": z.object({ invoice: z.string(), cents: z.int().check(z.nonnegative()) }),
  "invoice.voided": z.object({ invoice: z.string() }),
};

describe("webhookHandler, with a dummy handler and a scheme registered outside core", () => {
  let flxbl: Emulator;
  let sm: LocalSecretsManager;
  let ddb: LocalDynamoDB;
  let secretsClient: SecretsManagerClient;
  let n = 0;
  const tableName = "webhook-handler-test";
  const secret = acme.newSecret();
  /** What the handler saw, call by call. */
  let seen: unknown[] = [];

  /**
   * A fresh function (cold start) on a secret of its own holding `signingSecrets`; with `work`,
   * that is what it does, and it takes each invoice's lock with the event's idempotency record.
   */
  async function makeHandler(
    signingSecrets: string[] = [secret],
    work?: (
      context: WebhookHandlerContext<{ id: string; type: string; payload: { invoice: string } }>,
    ) => Promise<unknown>,
  ) {
    const key = (await (
      await fetch(`${flxbl.url}/api-keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${flxbl.adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ name: `acme-${++n}`, scopes: spec.scopes }),
      })
    ).json()) as { key: string };
    const secretId = `flxbl-lambda/test/acme-${n}`;
    await secretsClient.send(
      new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify({ apiKey: key.key, signingSecrets }) }),
    );
    return webhookHandler(
      {
        spec: { ...spec, name: `acme-webhook-${n}` },
        env: { FLXBL_URL: flxbl.url, FLXBL_SECRET_ARN: secretId, STATE_TABLE_NAME: tableName },
        events,
        lockKey: work && ((webhook) => `invoice#${webhook.payload.invoice}`),
        secrets: new SecretLoader({ secretId, client: secretsClient }),
        dynamodb: new DynamoDBClient({
          endpoint: ddb.url,
          region: "us-east-1",
          credentials: { accessKeyId: "l", secretAccessKey: "l" },
        }),
      },
      async (_event, context) => {
        const { id, type, payload } = context.webhook;
        seen.push(payload);
        if (work) return { statusCode: 200, body: JSON.stringify(await work(context)) };
        // `payload` is typed by the schema of `type`: narrowing on type gives the fields.
        const summary = type === "invoice.paid" ? `${payload.invoice} ${payload.cents}` : `${payload.invoice} voided`;
        return { statusCode: 200, body: JSON.stringify({ eventId: id, summary }) };
      },
    );
  }

  beforeAll(async () => {
    [flxbl, sm, ddb] = await Promise.all([
      startEmulator({ schema: appSchema }),
      startLocalSecretsManager(),
      startLocalDynamoDB(),
    ]);
    secretsClient = new SecretsManagerClient({
      endpoint: sm.url,
      region: "us-east-1",
      credentials: { accessKeyId: "fn", secretAccessKey: "local" },
    });
    await ensureStateTable(
      new DynamoDBClient({
        endpoint: ddb.url,
        region: "us-east-1",
        credentials: { accessKeyId: "l", secretAccessKey: "l" },
      }),
      tableName,
    );
  });
  afterAll(async () => {
    await Promise.all([flxbl.close(), sm.close(), ddb.close()]);
  });
  beforeEach(() => {
    seen = [];
    // Quiet: the handler's log lines are not what these tests look at.
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("hands a verified delivery to the handler with its payload validated by its type's schema", async () => {
    const handler = await makeHandler();

    const answer = await deliverWebhook(handler, spec, {
      type: "invoice.paid",
      data: { invoice: "in_1", cents: 500 },
      secret,
    });

    expect(answer.statusCode).toBe(200);
    expect(answer.json).toEqual({ eventId: expect.any(String), summary: "in_1 500" });
    expect(seen).toEqual([{ invoice: "in_1", cents: 500 }]);
  });

  it("answers a duplicate from the idempotency record, keyed by the id the scheme found", async () => {
    const handler = await makeHandler();
    const id = randomUUID();
    const delivery = { type: "invoice.voided", data: { invoice: "in_2" }, secret, id };

    const first = await deliverWebhook(handler, spec, delivery);
    const again = await deliverWebhook(handler, spec, delivery);

    expect(again).toEqual(first);
    expect(seen).toHaveLength(1);
  });

  it("refuses a known id with another payload (409), without running the handler", async () => {
    const handler = await makeHandler();
    const id = randomUUID();
    await deliverWebhook(handler, spec, { type: "invoice.voided", data: { invoice: "in_3" }, secret, id });

    const reused = await deliverWebhook(handler, spec, {
      type: "invoice.voided",
      data: { invoice: "in_4" },
      secret,
      id,
    });

    expect(reused.statusCode).toBe(409);
    expect(seen).toHaveLength(1);
  });

  it("acknowledges a type the handler does not list as ignored, without running the handler", async () => {
    const handler = await makeHandler();

    const answer = await deliverWebhook(handler, spec, { type: "customer.created", data: {}, secret });

    expect(answer).toMatchObject({
      statusCode: 200,
      json: { status: "ignored", reason: "event type customer.created is not handled" },
    });
    expect(seen).toEqual([]);
  });

  it("answers 400 with each problem when a listed type's payload does not fit its schema", async () => {
    const handler = await makeHandler();

    const answer = await deliverWebhook(handler, spec, {
      type: "invoice.paid",
      data: { invoice: "in_5", cents: -1 },
      secret,
    });

    expect(answer.statusCode).toBe(400);
    expect(answer.json).toEqual({
      message: "invoice.paid event is invalid",
      problems: [expect.stringMatching(/^cents: /)],
    });
    expect(seen).toEqual([]);
  });

  it("keeps no record of a refused payload: a corrected delivery under the same id is handled", async () => {
    const handler = await makeHandler();
    const id = randomUUID();

    const refused = await deliverWebhook(handler, spec, {
      type: "invoice.paid",
      data: { invoice: "in_6" },
      secret,
      id,
    });
    const corrected = await deliverWebhook(handler, spec, {
      type: "invoice.paid",
      data: { invoice: "in_6", cents: 700 },
      secret,
      id,
    });

    expect(refused.statusCode).toBe(400);
    expect(corrected).toMatchObject({ statusCode: 200, json: { eventId: id, summary: "in_6 700" } });
    expect(seen).toEqual([{ invoice: "in_6", cents: 700 }]);
  });

  it.each(["constructor", "__proto__", "toString", "hasOwnProperty"])(
    "treats a type named %s like any unlisted type (ignored, not a 500)",
    async (type) => {
      const handler = await makeHandler();

      const answer = await deliverWebhook(handler, spec, { type, data: {}, secret });

      expect(answer).toMatchObject({ statusCode: 200, json: { status: "ignored" } });
      expect(seen).toEqual([]);
    },
  );

  it.each([
    ["a delivery signed with another secret", { secret: acme.newSecret() }, 401],
    ["a delivery without its signature", { headers: { "x-acme-signature": undefined } }, 401],
    ["a delivery without an event id", { headers: { "x-acme-delivery": undefined } }, 400],
    ["a body that is not JSON", { body: "not json" }, 400],
    ["a body over 256 KiB", { body: JSON.stringify({ pad: "x".repeat(300_000) }) }, 413],
  ])("refuses %s before the handler runs", async (_, change, status) => {
    const handler = await makeHandler();

    const answer = await deliverWebhook(handler, spec, {
      type: "invoice.voided",
      data: { invoice: "x" },
      secret,
      ...change,
    });

    expect(answer.statusCode).toBe(status);
    expect(seen).toEqual([]);
  });

  it("answers 503 with the generic body when the function has no usable signing secret", async () => {
    const handler = await makeHandler(["too-short"]);

    const answer = await deliverWebhook(handler, spec, {
      type: "invoice.voided",
      data: { invoice: "x" },
      secret: "too-short",
    });

    expect(answer.statusCode).toBe(503);
    expect(answer.json).toEqual({ message: "Temporarily unavailable, retry later", requestId: expect.any(String) });
  });
  describe("a record's lock taken with the event's idempotency record (lockKey)", () => {
    const invoiceEvent = (invoice: string) => ({
      type: "invoice.voided",
      data: { invoice },
      secret,
      id: randomUUID(),
    });
    /** The function's idempotency records left in the table. */
    const records = async (functionName: string) =>
      (
        await new DynamoDBClient({
          endpoint: ddb.url,
          region: "us-east-1",
          credentials: { accessKeyId: "l", secretAccessKey: "l" },
        }).send(
          new ScanCommand({
            TableName: tableName,
            FilterExpression: "begins_with(id, :p)",
            ExpressionAttributeValues: { ":p": { S: `idem#${functionName}#` } },
          }),
        )
      ).Items ?? [];

    it("costs two DynamoDB calls per applied event and one per duplicate; the handler's run on that key costs none", async () => {
      const handler = await makeHandler([secret], (context) =>
        context.lock.run(`invoice#${context.webhook.payload.invoice}`, async () => "voided"),
      );
      const delivery = invoiceEvent(`in_${randomUUID()}`);

      ddb.resetCalls();
      const first = await deliverWebhook(handler, spec, delivery);
      const applied = { ...ddb.calls };
      ddb.resetCalls();
      const again = await deliverWebhook(handler, spec, delivery);

      expect(first.json).toBe("voided");
      expect(applied).toEqual({ TransactWriteItems: 2 });
      expect(ddb.calls).toEqual({ TransactWriteItems: 1 });
      expect(again).toEqual(first);
      expect(seen).toHaveLength(1);
    });

    it("runs two events on one record one after the other: the second waits until the first let the lock go", async () => {
      const timeline: string[] = [];
      let release: () => void = () => undefined;
      const firstHolds = new Promise<void>((r) => {
        release = r;
      });
      const handler = await makeHandler([secret], async (context) => {
        const { id } = context.webhook;
        timeline.push(`start ${id}`);
        if (timeline.length === 1) await firstHolds;
        timeline.push(`end ${id}`);
        return id;
      });
      const invoice = `in_${randomUUID()}`;
      const [a, b] = [invoiceEvent(invoice), invoiceEvent(invoice)];

      const first = deliverWebhook(handler, spec, a);
      await new Promise((r) => setTimeout(r, 150));
      const second = deliverWebhook(handler, spec, b);
      await new Promise((r) => setTimeout(r, 150));
      release();
      const answers = await Promise.all([first, second]);

      expect(answers.map((x) => x.statusCode)).toEqual([200, 200]);
      expect(timeline).toEqual([`start ${a.id}`, `end ${a.id}`, `start ${b.id}`, `end ${b.id}`]);
    });

    it("keeps no record of a failed attempt and lets its lock go: the redelivery runs at once", async () => {
      let attempts = 0;
      const handler = await makeHandler([secret], async () => {
        if (++attempts === 1) throw new Error("the handler failed");
        return "voided";
      });
      const delivery = invoiceEvent(`in_${randomUUID()}`);

      const failed = await deliverWebhook(handler, spec, delivery);
      const started = Date.now();
      const redelivered = await deliverWebhook(handler, spec, delivery);

      expect(failed.statusCode).toBe(500);
      expect(redelivered.json).toBe("voided");
      // The lock waits up to 2 s for a busy key: a free one is taken at once.
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(attempts).toBe(2);
    });

    it("keeps the lock until its lease lapses after a write whose outcome is unknown, and no record: the event stays retryable", async () => {
      const handler = await makeHandler([secret], (context) =>
        context.lock.run(`invoice#${context.webhook.payload.invoice}`, async () => {
          throw Object.assign(new Error("the write timed out"), { outcomeUnknown: true });
        }),
      );
      const invoice = `in_${randomUUID()}`;

      const failed = await deliverWebhook(handler, spec, invoiceEvent(invoice));
      const kept = await records(`acme-webhook-${n}`);
      const next = await deliverWebhook(handler, spec, invoiceEvent(invoice));

      expect(failed.statusCode).toBe(500);
      expect(kept).toEqual([]);
      expect(next.statusCode).toBe(503);
      expect(next.headers["retry-after"]).toBe("1");
      expect(seen).toHaveLength(1);
    });
  });
});
