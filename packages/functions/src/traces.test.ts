import { randomUUID } from "node:crypto";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { paymentsWebhook } from "./manifest.js";
import { Harness, type LambdaHandler, newSigningSecret, type Provisioned, paymentSucceeded } from "./test-harness.js";

// A local X-Ray daemon (a UDP socket, as the Lambda runtime provides one) and the environment of a
// Lambda function with active tracing, set before the X-Ray SDK loads: Powertools Tracer is on.
const daemon = await vi.hoisted(async () => {
  const { createSocket } = await import("node:dgram");
  const socket = createSocket("udp4");
  const documents: Array<Record<string, unknown>> = [];
  socket.on("message", (message: Buffer) => {
    // Each datagram: a JSON header line, then the (sub)segment document.
    const [, body] = message.toString("utf8").split("\n");
    if (body) documents.push(JSON.parse(body) as Record<string, unknown>);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  process.env.AWS_XRAY_DAEMON_ADDRESS = `127.0.0.1:${port}`;
  process.env.AWS_EXECUTION_ENV = "AWS_Lambda_nodejs22.x";
  process.env.AWS_LAMBDA_INITIALIZATION_TYPE = "on-demand";
  process.env.LAMBDA_TASK_ROOT = "/var/task";
  process.env._HANDLER = "index.handler";
  process.env.AWS_XRAY_CONTEXT_MISSING = "IGNORE_ERROR";
  const variables = [
    "AWS_XRAY_DAEMON_ADDRESS",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "LAMBDA_TASK_ROOT",
    "_HANDLER",
    "AWS_XRAY_CONTEXT_MISSING",
  ];
  return { socket, documents, variables };
});

const stripe = new Stripe("sk_test_not_used_for_api_calls");

/** A trace id header as Lambda sets it for a sampled invocation. */
function traceHeader(): { root: string; header: string } {
  const root = `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replaceAll("-", "").slice(0, 24)}`;
  const parent = randomUUID().replaceAll("-", "").slice(0, 16);
  return { root, header: `Root=${root};Parent=${parent};Sampled=1` };
}

interface Subsegment {
  name: string;
  namespace?: string;
  annotations?: Record<string, string | number | boolean>;
  subsegments?: Subsegment[];
  trace_id?: string;
  error?: boolean;
  throttle?: boolean;
}

/** Every subsegment in a document tree. */
const flatten = (s: Subsegment): Subsegment[] => [s, ...(s.subsegments ?? []).flatMap(flatten)];

describe("traces: Powertools Tracer under X-Ray active tracing", () => {
  let h: Harness;
  let fn: Provisioned;
  let handler: LambdaHandler;
  let secret: string;

  beforeAll(async () => {
    h = await Harness.start();
    secret = newSigningSecret();
    fn = await h.provision(paymentsWebhook, [secret]);
    handler = await h.load(paymentsWebhook, fn);
  });
  afterAll(async () => {
    await h.close();
    daemon.socket.close();
    for (const name of daemon.variables) delete process.env[name];
  });

  it("sends one subsegment per FLXBL call, annotated with entity, operation and status, and none with a key", async () => {
    const order = await h.admin<{ id: string }>("POST", "/dynamic/Order", {
      number: "ORD-T1",
      status: "pending",
      total: 2500,
      currency: "eur",
    });
    const body = JSON.stringify(paymentSucceeded(order.id));
    const trace = traceHeader();
    process.env._X_AMZN_TRACE_ID = trace.header;
    try {
      const res = await h.post(handler, paymentsWebhook, {
        headers: { "stripe-signature": stripe.webhooks.generateTestHeaderString({ payload: body, secret }) },
        body,
      });
      expect(res.statusCode).toBe(200);
    } finally {
      delete process.env._X_AMZN_TRACE_ID;
    }

    // Subsegments are streamed as they close; the handler's arrives last.
    const ofTrace = () => daemon.documents.filter((d) => d.trace_id === trace.root) as unknown as Subsegment[];
    await expect.poll(() => ofTrace().some((d) => d.name === "## index.handler")).toBe(true);
    const docs = ofTrace();
    const all = docs.flatMap(flatten);
    const handlerSegment = all.find((s) => s.name === "## index.handler");
    expect(handlerSegment?.annotations).toMatchObject({ Service: paymentsWebhook.name, ColdStart: true });

    const flxbl = all.filter((s) => s.name.startsWith("FLXBL "));
    expect(flxbl.map((s) => s.name).sort()).toEqual(["FLXBL Order read", "FLXBL Order update"]);
    for (const s of flxbl) {
      expect(s.namespace).toBe("remote");
      expect(s.annotations).toMatchObject({ flxbl_entity: "Order", flxbl_status: 200, flxbl_attempts: 1 });
    }
    expect(flxbl.map((s) => s.annotations?.flxbl_method).sort()).toEqual(["GET", "PATCH"]);

    // The AWS SDK calls (DynamoDB: the idempotency record and the lock; Secrets Manager at the cold start).
    const aws = all.filter((s) => s.namespace === "aws").map((s) => s.name);
    expect(aws).toContain("DynamoDB");
    // Every subsegment hangs from the handler's: FLXBL calls are not nested in each other.
    const handlerId = (handlerSegment as { id?: string } | undefined)?.id;
    for (const s of flxbl) expect((s as { parent_id?: string }).parent_id).toBe(handlerId);

    // A delivery refused by its signature: answered 401, the handler's subsegment flagged as an error.
    const refusedTrace = traceHeader();
    process.env._X_AMZN_TRACE_ID = refusedTrace.header;
    const stderr = vi.spyOn(process.stderr, "write");
    try {
      const res = await h.post(handler, paymentsWebhook, {
        headers: { "stripe-signature": stripe.webhooks.generateTestHeaderString({ payload: body, secret }) },
        body: body.replace("2500", "1"),
      });
      expect(res.statusCode).toBe(401);
    } finally {
      delete process.env._X_AMZN_TRACE_ID;
    }
    await expect
      .poll(() => daemon.documents.some((d) => d.trace_id === refusedTrace.root && d.name === "## index.handler"))
      .toBe(true);
    const refused = daemon.documents.find(
      (d) => d.trace_id === refusedTrace.root && d.name === "## index.handler",
    ) as unknown as Subsegment;
    expect(refused.error).toBe(true);
    expect(stderr.mock.calls.join("")).not.toContain("Failed to add error");
    stderr.mockRestore();

    const text = JSON.stringify(daemon.documents);
    expect(text).not.toContain(fn.apiKey);
    expect(text).not.toContain(secret);
  });
});
