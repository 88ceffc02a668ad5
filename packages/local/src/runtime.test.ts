import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { FunctionSpec, JobSpec, WebhookSpec } from "@flxbl-lambda/core";
import { manifest, type Order, type Product } from "@flxbl-lambda/functions";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Runtime, type RuntimeInfo, startRuntime } from "./runtime.js";
import { flxblAdmin, paymentSucceeded, stripeHeaders } from "./test-fixtures/app-client.js";
import { rawRequest } from "./test-fixtures/raw-request.js";

/** Test functions beside the app's: one that echoes what it got, one that outlives its timeout. */
const echo = {
  name: "echo",
  handler: "packages/local/src/test-fixtures/echo.handler",
  trigger: { kind: "http", method: "POST", path: "/echo" },
  signature: "standard-webhooks",
  scopes: ["entity:Order:read"],
  timeoutSeconds: 3,
  environment: { GREETING: "from the manifest" },
} as const satisfies WebhookSpec;
const slow = {
  name: "slow",
  handler: "packages/local/src/test-fixtures/slow.handler",
  trigger: { kind: "http", method: "POST", path: "/slow" },
  signature: "standard-webhooks",
  scopes: ["entity:Order:read"],
  timeoutSeconds: 1,
} as const satisfies WebhookSpec;
const specs: readonly FunctionSpec[] = [...manifest, echo, slow];

/** What the echo function answers. */
interface Echoed {
  event: APIGatewayProxyEventV2;
  requestId: string;
  remainingMs: number;
  env: { GREETING: string | null; UNNAMED: string | null };
}

/** Files a careless earlier run (or an older version) could have left in the data folder, readable by all. */
const leftBehind = { "runtime.json": "{}", "emulator-admin-key": "", "secrets.json": "[]", "secrets.json.tmp": "[]" };

describe("startRuntime", () => {
  let dataDir = "";
  const lines: string[] = [];
  let runtime: Runtime;
  let admin: ReturnType<typeof flxblAdmin>;
  let orderSeq = 0;

  const request = (path: string, init: RequestInit = {}) =>
    fetch(`${runtime.info.gatewayUrl}${path}`, { signal: AbortSignal.timeout(10_000), ...init });
  const callEcho = async (path = "/echo", init: RequestInit = {}): Promise<Echoed> => {
    const res = await request(path, { method: "POST", ...init });
    if (res.status !== 200) throw new Error(`echo answered ${res.status}`);
    return (await res.json()) as Echoed;
  };
  const newOrder = (total = 2500) =>
    admin.create<Order>("Order", { number: `ORD-RT-${++orderSeq}`, status: "pending", total, currency: "eur" });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "flxbl-runtime-"));
    // As an earlier, careless run could have left it: the folder 0755 and its files 0644.
    chmodSync(dataDir, 0o755);
    for (const [name, text] of Object.entries(leftBehind)) {
      writeFileSync(join(dataDir, name), text);
      chmodSync(join(dataDir, name), 0o644);
    }
    runtime = await startRuntime({
      manifest: specs,
      port: 0,
      dataDir,
      schedules: false,
      // As `.env` would give them: one the manifest names, one it does not.
      env: { PENDING_ORDER_MAX_AGE: "PT0S", GREETING: "from .env", UNNAMED: "not in any manifest" },
      log: (line) => lines.push(line),
      functionLog: (fn, line) => lines.push(`${fn} | ${line}`),
    });
    admin = flxblAdmin(runtime.info.flxbl);
  }, 30_000);

  afterAll(async () => {
    await runtime?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  describe("gateway", () => {
    it("answers 404 for a path no function serves", async () => {
      const res = await request("/webhooks/unknown", { method: "POST", body: "{}" });

      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ message: "Not Found" });
    });

    it("answers 404 for a function's path with another method", async () => {
      const res = await request("/webhooks/payments");

      expect(res.status).toBe(404);
    });

    it.each([
      ["a job that does not exist", "/_local/jobs/no-such-job"],
      ["a webhook", "/_local/jobs/payments-webhook"],
    ])("answers 404 when asked to run %s as a job", async (_what, path) => {
      const res = await request(path, { method: "POST" });

      expect(res.status).toBe(404);
    });

    it("answers GET /_local/health", async () => {
      const res = await request("/_local/health");

      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
    });

    describe("/_local/* requests from anything but this machine's own tools", () => {
      const port = () => new URL(runtime.info.gatewayUrl).port;
      const local = (path: string, headers: Record<string, string>, method = "GET") =>
        rawRequest(runtime.info.gatewayUrl, path, { method, headers });

      it.each([
        ["another host (DNS rebinding)", () => `evil.example:${port()}`],
        ["another host that resolves to loopback", () => `127.0.0.1.nip.io:${port()}`],
        ["the right host on another port", () => `127.0.0.1:${Number(port()) + 1}`],
        ["localhost on another port", () => `localhost:${Number(port()) === 1 ? 2 : Number(port()) - 1}`],
        ["the right host with no port", () => "127.0.0.1"],
      ])("refuses with 403 a Host naming %s", async (_what, host) => {
        const health = await local("/_local/health", { host: host() });
        // Refused before it is routed: a job that does not exist gets 403, not 404.
        const job = await local("/_local/jobs/no-such-job", { host: host() }, "POST");

        expect([health.status, job.status]).toEqual([403, 403]);
        expect(JSON.parse(health.body)).toEqual({ message: expect.stringMatching(/Host/) });
      });

      it.each([
        ["127.0.0.1:<port>", () => `127.0.0.1:${port()}`],
        ["localhost:<port>", () => `localhost:${port()}`],
        ["LocalHost:<port>, in any case", () => `LocalHost:${port()}`],
        ["[::1]:<port>", () => `[::1]:${port()}`],
      ])("answers a Host of %s", async (_what, host) => {
        const res = await local("/_local/health", { host: host() });

        expect(res.status).toBe(200);
        expect(JSON.parse(res.body)).toEqual({ ok: true });
      });

      it.each([
        ["another site", { origin: "https://evil.example" }],
        ["a page on another local port", { origin: `http://127.0.0.1:1` }],
        ["an opaque origin (null)", { origin: "null" }],
        ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site" }],
        ["Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site" }],
      ])("refuses with 403 a browser request from %s", async (_what, headers) => {
        const health = await local("/_local/health", headers);
        const job = await local("/_local/jobs/no-such-job", headers, "POST");

        expect([health.status, job.status]).toEqual([403, 403]);
        expect(JSON.parse(health.body)).toEqual({ message: expect.any(String) });
      });

      it.each([
        ["the gateway's own origin", () => ({ origin: runtime.info.gatewayUrl })],
        ["the gateway's origin as localhost", () => ({ origin: `http://localhost:${port()}` })],
        ["Sec-Fetch-Site: same-origin", () => ({ "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" })],
        ["Sec-Fetch-Site: none (typed in the address bar)", () => ({ "sec-fetch-site": "none" })],
        ["no Origin and no Sec-Fetch-* header (curl)", () => ({})],
        [
          "only Sec-Fetch-Mode: cors, as Node's fetch sends",
          () => ({ "sec-fetch-mode": "cors", "user-agent": "node" }),
        ],
      ])("answers a request with %s", async (_what, headers) => {
        const res = await local("/_local/health", headers());

        expect(res.status).toBe(200);
      });

      it("answers POST /_local/jobs/<name> from Node's fetch, as npm run job sends it", async () => {
        const res = await request("/_local/jobs/no-such-job", { method: "POST" });

        expect(res.status).toBe(404);
      });

      it("leaves webhook routes open to any Host and Origin, as API Gateway would", async () => {
        const res = await rawRequest(runtime.info.gatewayUrl, "/echo", {
          method: "POST",
          headers: { host: "hooks.example.com", origin: "https://evil.example", "sec-fetch-site": "cross-site" },
        });

        expect(res.status).toBe(200);
        expect((JSON.parse(res.body) as Echoed).event.requestContext.domainName).toBe("hooks.example.com");
      });
    });

    it("answers 20 concurrent signed payments, each with its own order's outcome", async () => {
      const orders = await Promise.all(Array.from({ length: 20 }, (_, i) => newOrder(1000 + i)));
      const payments = orders.map((order) => ({ order, payment: paymentSucceeded(order) }));
      const fn = runtime.info.functions["payments-webhook"];
      const secret = fn?.signingSecrets?.[0] ?? "";

      const answers = await Promise.all(
        payments.map(async ({ payment }) => {
          const res = await request("/webhooks/payments", {
            method: "POST",
            headers: stripeHeaders(payment.body, secret),
            body: payment.body,
          });
          return { status: res.status, body: (await res.json()) as { orderId?: string; status?: string } };
        }),
      );

      expect(answers.map((a) => a.status)).toEqual(payments.map(() => 200));
      expect(answers.map((a) => a.body)).toEqual(
        payments.map(({ order }) => expect.objectContaining({ orderId: order.id, status: "applied" })),
      );
      const stored = await Promise.all(orders.map((o) => admin.get<Order>("Order", o.id)));
      expect(stored.map((o) => [o.status, o.paymentReference])).toEqual(
        payments.map(({ payment }) => ["paid", payment.paymentIntentId]),
      );
    });

    it("answers 500 with a generic message when a function throws, and logs the error", async () => {
      const res = await request("/echo", { method: "POST", headers: { "x-echo-fail": "boom-42" } });
      const body = await res.text();

      expect(res.status).toBe(500);
      expect(JSON.parse(body)).toEqual({ message: "Internal Server Error" });
      expect(body).not.toContain("boom-42");
      expect(lines.some((l) => /^\[invoke\] echo \S+ POST \/echo -> failed: Error: .*boom-42/.test(l))).toBe(true);
    });
  });

  describe("API Gateway v2 event", () => {
    it("has lower-cased headers, the raw path and the query string", async () => {
      const { event } = await callEcho("/echo?b=2&a=1&a=3", {
        headers: { "X-Trace-Token": "abc", "Content-Type": "application/json" },
        body: '{"hello":"world"}',
      });

      expect(event).toMatchObject({
        version: "2.0",
        routeKey: "POST /echo",
        rawPath: "/echo",
        rawQueryString: "b=2&a=1&a=3",
        queryStringParameters: { a: "1,3", b: "2" },
        body: '{"hello":"world"}',
        isBase64Encoded: false,
      });
      expect(event.headers["x-trace-token"]).toBe("abc");
      expect(Object.keys(event.headers).filter((name) => name !== name.toLowerCase())).toEqual([]);
    });

    it("has a request context with request id, time, method and source IP", async () => {
      const before = Date.now();

      const { event } = await callEcho();

      expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(event.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
      expect(event.requestContext.timeEpoch).toBeGreaterThanOrEqual(before);
      expect(event.requestContext.timeEpoch).toBeLessThanOrEqual(Date.now());
      expect(event.requestContext.http).toMatchObject({ method: "POST", path: "/echo", sourceIp: "127.0.0.1" });
    });

    it("carries a binary body base64-encoded", async () => {
      const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13]);

      const { event } = await callEcho("/echo", {
        headers: { "content-type": "application/octet-stream" },
        body: bytes,
      });

      expect(event.isBase64Encoded).toBe(true);
      expect(Buffer.from(event.body ?? "", "base64").equals(bytes)).toBe(true);
    });

    it("comes with a Lambda context whose remaining time counts down from the function's timeout", async () => {
      const { remainingMs } = await callEcho();

      expect(remainingMs).toBeLessThanOrEqual(echo.timeoutSeconds * 1000);
      expect(remainingMs).toBeGreaterThan(echo.timeoutSeconds * 1000 - 2000);
    });
  });

  describe("invocations", () => {
    it("logs one [invoke] line with the function, its request id, the status and the duration", async () => {
      const { requestId } = await callEcho();

      const logged = lines.filter((l) => l.includes(requestId));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatch(new RegExp(`^\\[invoke\\] echo ${requestId} POST /echo -> 200 \\(\\d+ ms\\)$`));
    });

    it("answers 500 and logs Task timed out when a function runs past its timeout", async () => {
      const started = Date.now();

      const res = await request("/slow", { method: "POST" });

      expect(res.status).toBe(500);
      expect(Date.now() - started).toBeLessThan(slow.timeoutSeconds * 1000 + 1500);
      expect(
        lines.some((l) =>
          /^\[invoke\] slow \S+ POST \/slow -> failed: Sandbox.Timedout: Task timed out after 1.00 seconds \(\d+ ms\)$/.test(
            l,
          ),
        ),
      ).toBe(true);
    });

    it("answers again after a timeout, from a fresh process as Lambda's new container would", async () => {
      const before = await (await request("/slow?ms=0", { method: "POST" })).text();
      await request("/slow", { method: "POST" });

      const res = await request("/slow?ms=0", { method: "POST" });

      expect(res.status).toBe(200);
      const after = await res.text();
      expect(after).toMatch(/^done, pid \d+$/);
      expect(after).not.toBe(before);
    });

    it("answers POST /_local/jobs/<name> with the job's run summary", async () => {
      const products = await admin.query<Product>("Product");

      const res = await request("/_local/jobs/low-stock-alerts", { method: "POST" });

      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ job: "low-stock-alerts", scanned: products.length, complete: true });
    });

    it("prints a job run's metrics as one short line, not as raw EMF", async () => {
      const products = await admin.query<Product>("Product");
      const before = lines.length;

      await request("/_local/jobs/low-stock-alerts", { method: "POST" });

      const printed = lines.slice(before).filter((l) => l.startsWith("low-stock-alerts | "));
      expect(printed.some((l) => l.includes('"_aws"'))).toBe(false);
      const run = printed.find((l) => l.includes("JobRuns"));
      expect(run).toContain(`metrics JobRuns 1 · JobRecordsScanned ${products.length} · `);
      expect(run).toMatch(/JobRunComplete 1/);
      expect(run).toMatch(/FlxblLatency [\d.]+(–[\d.]+)? ms \(\d+\)/);
      expect(printed.some((l) => l.startsWith("low-stock-alerts | metrics [operation=Product:read] FlxblCalls "))).toBe(
        true,
      );
    });
  });

  describe("function environment", () => {
    it("lets a .env value override the manifest's value of the same name", async () => {
      const { env } = await callEcho();

      expect(env.GREETING).toBe("from .env");
    });

    it("passes no .env value the function's manifest does not name", async () => {
      const { env } = await callEcho();

      expect(env.UNNAMED).toBeNull();
    });

    it("gives the expiry job PENDING_ORDER_MAX_AGE from .env: PT0S expires an order made just now", async () => {
      const order = await newOrder();

      const res = await request("/_local/jobs/expire-stale-orders", { method: "POST" });

      expect(res.status).toBe(200);
      expect(await admin.get<Order>("Order", order.id)).toMatchObject({ status: "expired" });
    });
  });

  describe("runtime.json", () => {
    const read = () => JSON.parse(readFileSync(join(dataDir, "runtime.json"), "utf8")) as RuntimeInfo;

    it("holds what startRuntime returned: the gateway, FLXBL and every function", () => {
      const info = read();

      expect(info.gatewayUrl).toBe(runtime.info.gatewayUrl);
      expect(Object.keys(info.functions)).toEqual(specs.map((s) => s.name));
      // Compared whole without printing: the file holds keys and signing secrets.
      expect(JSON.stringify(info) === JSON.stringify(runtime.info)).toBe(true);
    });

    it("gives each function its trigger, its manifest scopes and the secret name the stacks use", () => {
      const { functions } = read();

      for (const spec of specs)
        expect(functions[spec.name], spec.name).toMatchObject({
          trigger:
            spec.trigger.kind === "http" ? `${spec.trigger.method} ${spec.trigger.path}` : spec.trigger.expression,
          scopes: [...spec.scopes],
          secretName: `flxbl-lambda/local/${spec.name}`,
        });
    });

    it("gives webhooks a URL and one signing secret of their scheme's shape, and jobs neither", () => {
      const { gatewayUrl, functions } = read();
      // What each built-in scheme's newSecret makes: Stripe's and Standard Webhooks' whsec_ + 32
      // bytes in base64, GitHub's and Shopify's 32 bytes in hex.
      const shapes: Record<string, RegExp> = {
        stripe: /^whsec_[A-Za-z0-9+/]{43}=$/,
        "standard-webhooks": /^whsec_[A-Za-z0-9+/]{43}=$/,
        github: /^[0-9a-f]{64}$/,
        shopify: /^[0-9a-f]{64}$/,
      };

      for (const spec of specs) {
        const fn = functions[spec.name];
        if ("signature" in spec) {
          expect(fn?.url, spec.name).toBe(`${gatewayUrl}${spec.trigger.path}`);
          expect(fn?.signature, spec.name).toBe(spec.signature);
          const shape = shapes[spec.signature] ?? /^.{24,}$/;
          expect(
            fn?.signingSecrets?.map((s) => shape.test(s)),
            spec.name,
          ).toEqual([true]);
        } else {
          expect(fn && Object.keys(fn).sort(), spec.name).toEqual(["scopes", "secretName", "trigger"]);
        }
      }
    });

    it("is readable by its owner only", () => {
      expect(statSync(join(dataDir, "runtime.json")).mode & 0o777).toBe(0o600);
    });
  });

  describe("data folder, found 0755 with files 0644", () => {
    it("is narrowed to its owner only (0700)", () => {
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    });

    it.each(["runtime.json", "emulator-admin-key", "secrets.json"])("has %s readable by its owner only", (name) => {
      const file = join(dataDir, name);

      expect(lstatSync(file).isFile()).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, "utf8")).not.toBe(leftBehind[name as keyof typeof leftBehind]);
    });
  });
});

describe("startRuntime's scheduler", () => {
  const tick = {
    name: "tick",
    handler: "packages/local/src/test-fixtures/tick.handler",
    trigger: { kind: "schedule", expression: "rate(1 minute)" },
    scopes: ["entity:Order:read"],
    timeoutSeconds: 30,
  } as const satisfies JobSpec;
  let dataDir = "";
  const lines: string[] = [];
  let runtime: Runtime | undefined;
  let startedAt = 0;
  let armedBy = 0;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "flxbl-scheduler-"));
    // Only setTimeout is faked, and it still follows the wall clock, so the servers behave as
    // usual; the test then jumps the clock a minute instead of waiting one.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"], shouldAdvanceTime: true });
    startedAt = Date.now();
    runtime = await startRuntime({
      manifest: [tick],
      port: 0,
      dataDir,
      log: (line) => lines.push(line),
      functionLog: (fn, line) => lines.push(`${fn} | ${line}`),
    });
    armedBy = Date.now();
  }, 30_000);

  afterAll(async () => {
    vi.useRealTimers();
    await runtime?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("fires a rate(1 minute) job a minute after start with an EventBridge Scheduled Event", async () => {
    const invoked = () => lines.filter((l) => /^\[invoke\] tick \S+ scheduled -> ok \(\d+ ms\)$/.test(l));
    expect(invoked()).toEqual([]);

    await vi.advanceTimersByTimeAsync(60_000);
    for (let waited = 0; invoked().length === 0 && waited < 5_000; waited += 50) await sleep(50);

    expect(invoked()).toHaveLength(1);
    const printed = lines.find((l) => l.startsWith("tick | tick "))?.slice("tick | tick ".length);
    const event = JSON.parse(printed ?? "{}") as { detailType: string; source: string; time: string };
    expect(event).toMatchObject({ detailType: "Scheduled Event", source: "aws.events" });
    // The fire time, in whole seconds: a minute after the scheduler was armed during start-up.
    expect(Date.parse(event.time)).toBeGreaterThanOrEqual(Math.floor((startedAt + 60_000) / 1000) * 1000);
    expect(Date.parse(event.time)).toBeLessThanOrEqual(armedBy + 60_000);
  });
});
