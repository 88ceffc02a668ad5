import { randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { type LocalSecretsManager, startLocalSecretsManager } from "@flxbl-lambda/aws-local";
import { type Emulator, startEmulator } from "@flxbl-lambda/emulator";
import type { APIGatewayProxyEventV2, Context, ScheduledEvent } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { appSchema } from "../../emulator/src/test-helpers.js";
import { resetPacers } from "./flxbl/pacer.js";
import type { FlxblRecord } from "./flxbl/types.js";
import { JobFailedError } from "./jobs/runner.js";
import { SecretLoader } from "./keys/secret-loader.js";
import { flxblHandler } from "./lambda.js";
import { ClientError } from "./middleware/errors.js";
import { metricNames } from "./observe/catalog.js";

interface Order {
  number: string;
  status: string;
  total: number;
  currency: string;
}

/** A Lambda context as the runtime passes it (the one part of AWS that cannot run here). */
function lambdaContext(remainingMs = 10_000): Context {
  const end = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "orders-test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:orders-test",
    memoryLimitInMB: "256",
    awsRequestId: randomUUID(),
    logGroupName: "/aws/lambda/orders-test",
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, end - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function httpEvent(body: unknown): APIGatewayProxyEventV2 {
  const text = JSON.stringify(body);
  return {
    version: "2.0",
    routeKey: "POST /orders",
    rawPath: "/orders",
    rawQueryString: "",
    headers: { "content-type": "application/json", authorization: "Bearer should-never-be-logged" },
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: "localhost",
      domainPrefix: "localhost",
      http: { method: "POST", path: "/orders", protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
      requestId: randomUUID(),
      routeKey: "POST /orders",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: text,
    isBase64Encoded: false,
  };
}

const scheduledEvent: ScheduledEvent = {
  version: "0",
  id: randomUUID(),
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: "000000000000",
  time: new Date().toISOString(),
  region: "us-east-1",
  resources: ["arn:aws:events:us-east-1:000000000000:rule/test"],
  detail: {},
};

describe("flxblHandler: a full invocation against the emulator and a local Secrets Manager", () => {
  let flxbl: Emulator;
  let sm: LocalSecretsManager;
  let admin: SecretsManagerClient;
  let functionKey: string;
  let orderId: string;
  let output: string[];
  let n = 0;

  const adminApi = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${flxbl.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${flxbl.adminKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return res.status === 204 ? undefined : ((await res.json()) as Record<string, unknown>);
  };
  const newKey = async (scopes: string[]) =>
    (await adminApi("POST", "/api-keys", { name: `fn-${++n}`, scopes })) as { id: string; key: string };
  const secretsClient = () =>
    new SecretsManagerClient({
      endpoint: sm.url,
      region: "us-east-1",
      credentials: { accessKeyId: "fn", secretAccessKey: "local" },
      maxAttempts: 1,
    });

  /** A handler built as a function would build it, on its own secret. */
  async function makeHandler(
    scopes: string[],
    body: (event: unknown, context: Parameters<Parameters<typeof flxblHandler>[1]>[1]) => Promise<unknown>,
    options: { secretValue?: string; retryAttempts?: number; now?: () => number } = {},
  ) {
    const secretId = `flxbl-lambda/test/fn-${++n}`;
    if (options.secretValue !== "absent") {
      await admin.send(
        new CreateSecretCommand({
          Name: secretId,
          SecretString:
            options.secretValue ?? JSON.stringify({ apiKey: functionKey, signingSecrets: ["whsec_dGVzdHNlY3JldA=="] }),
        }),
      );
    }
    const secrets = new SecretLoader({ secretId, client: secretsClient(), now: options.now });
    const handler = flxblHandler(
      {
        spec: { name: "orders-test", scopes },
        env: { FLXBL_URL: flxbl.url, FLXBL_SECRET_ARN: secretId },
        secrets,
        client: { retry: { attempts: options.retryAttempts ?? 3, baseDelayMs: 5 } },
      },
      body,
    );
    return { handler, secrets, secretId };
  }

  beforeAll(async () => {
    flxbl = await startEmulator({ schema: appSchema });
    sm = await startLocalSecretsManager();
    admin = secretsClient();
    functionKey = (await newKey(["entity:Order:read", "entity:Order:update"])).key;
    const created = await adminApi("POST", "/dynamic/Order", {
      number: "A-1",
      status: "pending",
      total: 100,
      currency: "eur",
    });
    orderId = created?.id as string;
  });
  afterAll(async () => {
    await flxbl.close();
    await sm.close();
  });

  beforeEach(() => {
    // The tests share keys: none is held by the Retry-After another test's 429s set.
    resetPacers();
    output = [];
    const capture = (chunk: unknown) => {
      output.push(String(chunk));
      return true;
    };
    vi.spyOn(process.stdout, "write").mockImplementation(capture);
    vi.spyOn(process.stderr, "write").mockImplementation(capture);
    flxbl.configure({ faults: { errorBurst: 0, rateLimitBurst: 0, latencyMs: 0 } });
    flxbl.resetStats();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("gives the handler a client that reads with the function's own key", async () => {
    const { handler } = await makeHandler(["entity:Order:read"], async (_e, ctx) => {
      const order = await ctx.flxbl.entity<Order>("Order").get(orderId);
      return { statusCode: 200, body: order.number };
    });
    const res = await handler(httpEvent({}), lambdaContext());
    expect(res).toEqual({ statusCode: 200, body: "A-1" });
  });

  it("stops a call outside the declared scopes before it reaches FLXBL", async () => {
    const { handler } = await makeHandler(["entity:Order:read"], async (_e, ctx) => {
      await ctx.flxbl.entity<Order>("Order").update(orderId, { status: "paid" });
      return { statusCode: 200 };
    });
    const context = lambdaContext();
    const res = (await handler(httpEvent({}), context)) as { statusCode: number; body: string };
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ message: "Internal error", requestId: context.awsRequestId });
    expect(flxbl.stats().total).toBe(0);
    expect(output.join("")).toContain("entity:Order:update");
  });

  it("rethrows for a scheduled event so Lambda's retries and failure destination apply", async () => {
    const { handler } = await makeHandler(["entity:Order:read"], async (_e, ctx) => {
      await ctx.flxbl.entity<Order>("Order").update(orderId, { status: "paid" });
    });
    await expect(handler(scheduledEvent, lambdaContext())).rejects.toMatchObject({ name: "FlxblScopeError" });
  });

  it("redacts an error that leaves the handler: what the Lambda runtime prints and the failure queue keeps", async () => {
    const signing = "whsec_c2lnbmluZ3NlY3JldHNpZ25pbmdzZWNyZXQ=";
    const { handler } = await makeHandler(["entity:Order:read"], async () => {
      const cause = new Error(`FLXBL refused Authorization: Bearer ${functionKey}`);
      const err = new JobFailedError({
        job: "sweep",
        runId: "r1",
        complete: true,
        resumedFrom: null,
        checkpoint: null,
        run: { scanned: 1, changed: 0, unchanged: 0, failed: 1 },
        failures: [{ id: "node_1", error: `signature made with ${signing} refused` }],
        pages: 1,
        throttled: 0,
        recovered: 0,
        durationMs: 1,
        scanned: 1,
        changed: 0,
        unchanged: 0,
        failed: 1,
      });
      Object.assign(err, { cause });
      throw err;
    });

    const thrown = await handler(scheduledEvent, lambdaContext()).catch((err: unknown) => err);

    // What the runtime takes from a rejected handler: name, message, stack, and what JSON shows of it.
    const seen = JSON.stringify({
      name: (thrown as Error).name,
      message: (thrown as Error).message,
      stack: (thrown as Error).stack,
      cause: String((thrown as Error).cause),
      causeStack: ((thrown as Error).cause as Error).stack,
      summary: (thrown as JobFailedError).summary,
    });
    expect(thrown).toBeInstanceOf(JobFailedError);
    expect(seen).not.toContain(functionKey);
    expect(seen).not.toContain(signing);
    expect(seen).toContain("node_1");
  });

  it("answers 503 with FLXBL's Retry-After when FLXBL throttles past the retry budget", async () => {
    flxbl.configure({ faults: { rateLimitBurst: 10, rateLimitBurstRetryAfter: 7 } });
    const { handler } = await makeHandler(
      ["entity:Order:read"],
      async (_e, ctx) => ctx.flxbl.entity<Order>("Order").get(orderId),
      { retryAttempts: 1 },
    );
    const res = (await handler(httpEvent({}), lambdaContext(30_000))) as {
      statusCode: number;
      headers: Record<string, string>;
    };
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("7");
  });

  it("answers 503 with Retry-After when FLXBL keeps failing with 503", async () => {
    flxbl.configure({ faults: { errorBurst: 10, errorStatus: 503 } });
    const { handler } = await makeHandler(["entity:Order:read"], async (_e, ctx) =>
      ctx.flxbl.entity<Order>("Order").get(orderId),
    );
    const res = (await handler(httpEvent({}), lambdaContext())) as {
      statusCode: number;
      headers: Record<string, string>;
    };
    expect(res.statusCode).toBe(503);
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(flxbl.stats().routes["GET /dynamic/Order/:id"]).toBe(3);
  });

  it("answers a ClientError with its own status and message", async () => {
    const { handler } = await makeHandler(["entity:Order:read"], async () => {
      throw new ClientError(400, "orderId is required");
    });
    const res = (await handler(httpEvent({}), lambdaContext())) as { statusCode: number; body: string };
    expect(res).toMatchObject({ statusCode: 400 });
    expect(JSON.parse(res.body)).toEqual({ message: "orderId is required" });
  });

  it("answers 500 without internals when the function's secret is missing, and logs which secret", async () => {
    const { handler, secretId } = await makeHandler(
      ["entity:Order:read"],
      async (_e, ctx) => ctx.flxbl.entity<Order>("Order").get(orderId),
      { secretValue: "absent" },
    );
    const res = (await handler(httpEvent({}), lambdaContext())) as { statusCode: number; body: string };
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain(secretId);
    expect(output.join("")).toContain("SecretNotFoundError");
    expect(output.join("")).toContain(secretId);
  });

  it("answers 500, not 503, while the function's secret is scheduled for deletion, and logs how to restore it", async () => {
    let clock = 1_000_000;
    const { handler, secretId } = await makeHandler(
      ["entity:Order:read"],
      async (_e, ctx) => ctx.flxbl.entity<Order>("Order").get(orderId),
      { now: () => clock },
    );
    await admin.send(new DeleteSecretCommand({ SecretId: secretId, RecoveryWindowInDays: 7 }));

    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(((await handler(httpEvent({}), lambdaContext())) as { statusCode: number }).statusCode);
      clock += 10_000;
    }

    // Not a 503 with Retry-After: the sender would retry for as long as nobody restores the secret.
    expect(statuses).toEqual([500, 500, 500]);
    expect(output.join("")).toContain("SecretDeletedError");
    expect(output.join("")).toContain(`aws secretsmanager restore-secret --secret-id ${secretId}`);
  });

  it("picks up a rotated key with no failed invocation when the old key is revoked", async () => {
    const scopes = ["entity:Order:read"];
    const oldKey = await newKey(scopes);
    let clock = Date.now();
    const { handler, secretId, secrets } = await makeHandler(
      scopes,
      async (_e, ctx) => {
        const order = await ctx.flxbl.entity<Order>("Order").get(orderId);
        return { statusCode: 200, body: order.id };
      },
      { secretValue: JSON.stringify({ apiKey: oldKey.key }), now: () => clock },
    );
    const statuses: number[] = [];
    const invoke = async () => {
      const res = (await handler(httpEvent({}), lambdaContext())) as { statusCode: number };
      statuses.push(res.statusCode);
    };
    await Promise.all([invoke(), invoke(), invoke()]);
    // Later than the 10-s floor between re-reads after a 401 (and within the 300-s TTL).
    clock += 11_000;

    // Rotation: a new key with the same scopes goes into the secret, then the old one is revoked.
    const fresh = await newKey(scopes);
    await admin.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify({ apiKey: fresh.key }) }),
    );
    await adminApi("DELETE", `/api-keys/${oldKey.id}`);
    const readsBefore = secrets.fetches;
    const outputBefore = output.length;
    await Promise.all(Array.from({ length: 10 }, invoke));
    await Promise.all(Array.from({ length: 5 }, invoke));

    expect(statuses).toHaveLength(18);
    expect(statuses).toEqual(Array(18).fill(200));
    // Ten concurrent 401s led to a single re-read of the secret.
    expect(secrets.fetches - readsBefore).toBe(1);
    // Each call FLXBL refused is counted as a key refresh (KeyRefreshes), in its own invocation's document.
    const refreshes = output
      .slice(outputBefore)
      .join("")
      .split("\n")
      .filter((l) => l.includes('"_aws"'))
      .map((l) => (JSON.parse(l) as Record<string, number>)[metricNames.keys.refreshes] ?? 0);
    expect(refreshes.filter((n) => n > 0).length).toBeGreaterThanOrEqual(1);
    expect(refreshes.every((n) => n <= 1)).toBe(true);
  });

  it("logs with the request id and function name, and no key, secret or Authorization value on any path", async () => {
    const contexts: Context[] = [];
    const run = async (
      scopes: string[],
      body: Parameters<typeof makeHandler>[1],
      event: unknown = httpEvent({ authorization: `Bearer ${functionKey}` }),
    ) => {
      const { handler } = await makeHandler(scopes, body);
      const context = lambdaContext();
      contexts.push(context);
      await Promise.resolve(handler(event as APIGatewayProxyEventV2, context)).catch(() => undefined);
    };
    const readScopes = ["entity:Order:read"];
    // Success, with a handler that carelessly logs secrets in every shape it could.
    await run(readScopes, async (event, ctx) => {
      const secret = await ctx.flxbl.entity<Order>("Order").get(orderId);
      ctx.logger.info(`calling with Bearer ${functionKey}`, {
        event,
        headers: {
          Authorization: `Bearer ${functionKey}`,
          "Stripe-Signature": "t=1,v1=abcdef0123456789abcdef0123456789",
        },
        nested: { apiKey: functionKey, note: `key=${functionKey} secret=whsec_dGVzdHNlY3JldA==` },
        order: secret as FlxblRecord<Order>,
      });
      return { statusCode: 200 };
    });
    // A thrown error whose message carries the key.
    await run(readScopes, async () => {
      throw new Error(`boom with ${functionKey} and whsec_dGVzdHNlY3JldA==`);
    });
    // Out of scope, upstream outage, client error, schedule failure.
    await run(readScopes, async (_e, ctx) => ctx.flxbl.entity<Order>("Order").update(orderId, { status: "paid" }));
    flxbl.configure({ faults: { errorBurst: 10 } });
    await run(readScopes, async (_e, ctx) => ctx.flxbl.entity<Order>("Order").get(orderId));
    flxbl.configure({ faults: { errorBurst: 0 } });
    await run(readScopes, async () => {
      throw new ClientError(401, `bad signature v1=${"ab".repeat(32)}`);
    });
    await run(
      readScopes,
      async () => {
        throw new Error(`schedule failed, Authorization: Bearer ${functionKey}`);
      },
      scheduledEvent,
    );

    const log = output.join("");
    expect(log.length).toBeGreaterThan(0);
    expect(log).not.toContain(functionKey);
    expect(log).not.toContain(functionKey.slice(15));
    expect(log).not.toContain("whsec_dGVzdHNlY3JldA==");
    expect(log).not.toContain("should-never-be-logged");
    expect(log).not.toContain("ab".repeat(32));
    expect(log).not.toMatch(/Bearer (?!\[REDACTED)/);
    const lines = log
      .split("\n")
      .filter((l) => l.trim().startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      // Metric documents (EMF) are checked for secrets above with the rest; log lines carry the context.
      .filter((l) => !("_aws" in l));
    expect(lines.length).toBeGreaterThanOrEqual(6);
    for (const line of lines) {
      expect(contexts.map((c) => c.awsRequestId)).toContain(line.function_request_id);
      expect(line.function_name).toBe("orders-test");
    }
  });
});
