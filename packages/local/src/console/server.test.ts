import { randomUUID } from "node:crypto";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { manifest, type Order } from "@flxbl-lambda/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../runtime.js";
import { flxblAdmin, paymentSucceeded, stripeHeaders } from "../test-fixtures/app-client.js";
import { startConsoleApp } from "../test-fixtures/console-app.js";
import { rawRequest } from "../test-fixtures/raw-request.js";

describe("the local console's page and API over HTTP", () => {
  let app: Awaited<ReturnType<typeof startConsoleApp>>;
  let runtime: Runtime;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${runtime.info.consoleUrl}api/${path}`, { signal: AbortSignal.timeout(15_000), ...init });
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    api(path, {
      method: "POST",
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  const port = () => new URL(runtime.info.gatewayUrl).port;

  beforeAll(async () => {
    app = await startConsoleApp("console-http");
    runtime = app.runtime;
  }, 60_000);
  afterAll(() => app?.close());

  describe("the page and its files", () => {
    it.each([
      ["", "text/html; charset=utf-8"],
      ["console.css", "text/css; charset=utf-8"],
      ["app.js", "text/javascript; charset=utf-8"],
    ])("serves %s as %s with a strict Content-Security-Policy and nosniff", async (file, type) => {
      const res = await fetch(`${runtime.info.consoleUrl}${file}`);

      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(type);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toMatch(/(^|; )default-src 'self'(;|$)/);
      expect(csp).toMatch(/(^|; )script-src 'self'(;|$)/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
    });

    it("ships no inline script or style, and nothing from another origin", async () => {
      const html = await (await fetch(runtime.info.consoleUrl as string)).text();

      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    });

    it("redirects /_local/console to the page", async () => {
      const res = await fetch(`${runtime.info.gatewayUrl}/_local/console`, { redirect: "manual" });

      expect(res.status).toBe(308);
      expect(res.headers.get("location")).toBe("/_local/console/");
    });

    it.each([
      "/_local/console/../runtime.ts",
      "/_local/console/..%2fruntime.ts",
      "/_local/console/%2e%2e/%2e%2e/package.json",
      "/_local/console/..%2F..%2Fpackage.json",
      "/_local/console/static/index.html",
      "/_local/console/%2Fetc%2Fpasswd",
      "/_local/console//etc/passwd",
      "/_local/console/app.js%00.html",
      "/_local/console/server.ts",
    ])("serves no file outside its static folder: %s", async (path) => {
      const res = await rawRequest(runtime.info.gatewayUrl, path, { headers: { host: `127.0.0.1:${port()}` } });

      expect(res.status).toBe(404);
      expect(res.body).not.toMatch(/import |root:|"workspaces"/);
    });

    it("answers 405 with the allowed methods to a POST of the page", async () => {
      const res = await fetch(runtime.info.consoleUrl as string, { method: "POST" });

      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, HEAD");
    });
  });

  describe("the gateway's /_local/ checks", () => {
    it.each([
      ["another Host (DNS rebinding)", { host: "console.attacker.example" }],
      ["another site's Origin", { origin: "https://attacker.example" }],
      ["another local port's Origin", { origin: "http://127.0.0.1:1" }],
      ["a cross-site fetch", { "sec-fetch-site": "cross-site" }],
      ["a same-site fetch from another port", { "sec-fetch-site": "same-site" }],
    ])("refuses %s for the page and the API", async (_what, extra: Record<string, string>) => {
      for (const path of ["/_local/console/", "/_local/console/api/functions", "/_local/console/api/events"]) {
        const res = await rawRequest(runtime.info.gatewayUrl, path, {
          headers: { host: `127.0.0.1:${port()}`, ...extra },
        });

        expect(res.status, path).toBe(403);
      }
    });

    it("answers the page's own requests (its Origin, same-origin)", async () => {
      const res = await rawRequest(runtime.info.gatewayUrl, "/_local/console/api/webhooks", {
        headers: {
          host: `localhost:${port()}`,
          origin: `http://localhost:${port()}`,
          "sec-fetch-site": "same-origin",
        },
      });

      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).webhooks.map((w: { name: string }) => w.name)).toEqual([
        "payments-webhook",
        "inventory-webhook",
      ]);
    });
  });

  describe("bad requests get a clear answer", () => {
    const names = manifest.map((s) => s.name);

    it.each([
      ["an unknown API", () => api("nothing-here"), 404, /Endpoints under \/_local\/console\/api\/: GET functions/],
      ["rotating an unknown function's key", () => post("keys/nope/rotate"), 404, new RegExp(names.join(", "))],
      [
        "running a webhook as a job",
        () => post("jobs/payments-webhook/run"),
        404,
        /Jobs: expire-stale-orders, low-stock-alerts/,
      ],
      [
        "an unknown webhook",
        () => post("webhooks/nope/send", { type: "x" }),
        404,
        /Webhooks: payments-webhook, inventory-webhook/,
      ],
      [
        "an event type the sample has not",
        () => post("webhooks/payments-webhook/send", { type: "invoice.paid" }),
        400,
        /payment_intent.succeeded/,
      ],
      [
        "a body that is not JSON",
        () => post("webhooks/payments-webhook/send", "{type", { "content-type": "application/json" }),
        400,
        /not valid JSON/,
      ],
      [
        "a body of another type",
        () => post("webhooks/payments-webhook/send", "type=x", { "content-type": "text/plain" }),
        415,
        /application\/json/,
      ],
      [
        "an unknown entity",
        () => api("data/Customer"),
        404,
        /No entity named "Customer". Entities: Product, Order, StockAlert/,
      ],
      ["a limit out of range", () => api("data/Order?limit=5000"), 400, /limit must be a whole number from 1 to 100/],
      ["a record id with a path in it", () => api("data/Order/..%2F..%2Fapi-keys"), 400, /is not a record id/],
      ["an invocation not kept", () => api(`invocations/${randomUUID()}`), 404, /only the last ones are kept/],
      ["an unknown status filter", () => api("invocations?status=great"), 400, /ok, error, running/],
      ["an unknown function filter", () => api("invocations?function=nope"), 404, /Functions: payments-webhook/],
      ["GET on an action", () => api("jobs/expire-stale-orders/run"), 405, /use POST/],
    ])("%s", async (_what, call, status, message) => {
      const res = await call();

      expect(res.status).toBe(status);
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    });

    it("answers 400 to replaying a job's run (only webhook deliveries replay)", async () => {
      const { invocationId } = (await (await post("jobs/low-stock-alerts/run")).json()) as { invocationId: string };

      const res = await post(`invocations/${invocationId}/replay`);

      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(/job run, not a webhook delivery/);
    });
  });

  describe("FLXBL calls", () => {
    it("shows a webhook's FLXBL calls, with the call repeated after FLXBL's 503 marked as a retry", async () => {
      // The injected fault must meet this webhook's first call, not a call of a job still running.
      for (let until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
        const running = (await (await api("invocations?status=running")).json()) as { invocations: unknown[] };
        if (running.invocations.length === 0) break;
      }
      const { url, adminKey } = runtime.info.flxbl;
      const configured = await fetch(`${new URL(url).origin}/_emulator/config`, {
        method: "PATCH",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ faults: { errorBurst: 1, errorStatus: 503 } }),
      });
      expect(configured.status).toBe(200);

      const sent = (await (await post("webhooks/inventory-webhook/send", { type: "inventory.updated" })).json()) as {
        status: number;
        invocationId: string;
      };

      expect(sent.status).toBe(200);
      const view = (await (await api(`invocations/${sent.invocationId}`)).json()) as {
        flxblCalls: Array<{ method: string; path: string; status: number; retry: boolean }>;
        flxblRetries: number;
      };
      const [first, second] = view.flxblCalls;
      expect(first).toMatchObject({ status: 503, retry: false });
      expect(second).toMatchObject({ method: first?.method, path: first?.path, status: 200, retry: true });
      expect(view.flxblRetries).toBe(1);
    });
  });

  describe("jobs", () => {
    it("reports a running job's progress from its checkpoint, then its summary among the last runs", async () => {
      const admin = flxblAdmin(runtime.info.flxbl);
      // Three pages of stale orders (every pending order is stale here), so the run saves checkpoints.
      for (let i = 0; i < 250; i += 25)
        await Promise.all(
          Array.from({ length: 25 }, (_, j) =>
            admin.create<Order>("Order", {
              number: `ORD-PROGRESS-${i + j}`,
              status: "pending",
              total: 100,
              currency: "eur",
            }),
          ),
        );
      const stream = new AbortController();
      const events = await api("events", { signal: stream.signal });
      let streamed = "";
      const reading = (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of events.body as AsyncIterable<Uint8Array>) streamed += decoder.decode(chunk);
      })().catch(() => undefined);

      const { invocationId } = (await (await post("jobs/expire-stale-orders/run")).json()) as { invocationId: string };
      let runs: Array<{ invocationId: string; summary?: { changed: number; complete: boolean } }> = [];
      for (let until = Date.now() + 20_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
        const jobs = (await (await api("jobs")).json()) as { jobs: Array<{ name: string; runs: typeof runs }> };
        runs = jobs.jobs.find((j) => j.name === "expire-stale-orders")?.runs ?? [];
        if (runs.some((r) => r.invocationId === invocationId)) break;
      }
      stream.abort();
      await reading;

      const progress = [...streamed.matchAll(/event: job\ndata: (.*)\n/g)].map(
        (m) =>
          JSON.parse(m[1] as string) as { invocationId: string; progress: { scanned: number; cursor: string | null } },
      );
      const scanned = progress.filter((p) => p.invocationId === invocationId).map((p) => p.progress.scanned);
      // Seen mid-run: some records done, not all (the summary below has them all).
      expect(
        scanned.some((n) => n > 0 && n < 250),
        `${scanned.join(", ")}\n${app.logTail()}`,
      ).toBe(true);
      expect(runs[0]).toMatchObject({ invocationId, summary: { complete: true } });
      expect(runs[0]?.summary?.changed).toBeGreaterThanOrEqual(250);
    }, 40_000);
  });

  describe("secrets", () => {
    /** A secret's value never printed: a failed assertion names which secret leaked, not the value. */
    const leaked = (texts: string[], secrets: Record<string, string>) =>
      Object.entries(secrets)
        .filter(([, value]) => value.length >= 8 && texts.some((t) => t.includes(value)))
        .map(([name]) => name);
    const secretsClient = () =>
      new SecretsManagerClient({
        endpoint: runtime.info.secretsManagerUrl,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      });
    /** Every function's key and signing secrets as stored now. */
    const storedSecrets = async (label: string) => {
      const client = secretsClient();
      const found: Record<string, string> = {};
      for (const spec of manifest) {
        const out = await client.send(new GetSecretValueCommand({ SecretId: `flxbl-lambda/local/${spec.name}` }));
        const value = JSON.parse(out.SecretString ?? "{}") as { apiKey: string; signingSecrets?: string[] };
        found[`${label} apiKey of ${spec.name}`] = value.apiKey;
        for (const [i, secret] of (value.signingSecrets ?? []).entries())
          found[`${label} signing secret ${i} of ${spec.name}`] = secret;
      }
      client.destroy();
      return found;
    };

    it("keeps every key, signing secret and signature header out of the API and the event stream", async () => {
      const stream = new AbortController();
      let streamed = "";
      const events = await api("events", { signal: stream.signal });
      const reading = (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of events.body as AsyncIterable<Uint8Array>) streamed += decoder.decode(chunk);
      })().catch(() => undefined);
      const secrets: Record<string, string> = {
        "the admin key": runtime.info.flxbl.adminKey,
        ...(await storedSecrets("before rotation:")),
      };
      // A delivery of our own with secrets in its headers: the Stripe signature, a bearer token, an API key.
      const order = await flxblAdmin(runtime.info.flxbl).create<Order>("Order", {
        number: `ORD-SECRETS-${Date.now()}`,
        status: "pending",
        total: 1200,
        currency: "eur",
      });
      const payments = runtime.info.functions["payments-webhook"];
      const { body } = paymentSucceeded(order);
      const headers = stripeHeaders(body, payments?.signingSecrets?.[0] as string);
      secrets["the stripe-signature header"] = headers["stripe-signature"] as string;
      secrets["the signature's v1 value"] = /v1=([0-9a-f]+)/.exec(headers["stripe-signature"] as string)?.[1] ?? "";
      const sent = await fetch(payments?.url as string, {
        method: "POST",
        headers: {
          ...headers,
          authorization: `Bearer ${runtime.info.flxbl.adminKey}`,
          "x-api-key": secrets["before rotation: apiKey of payments-webhook"] as string,
        },
        body,
      });
      expect(sent.status).toBe(200);
      const own = (await (await api("invocations?function=payments-webhook")).json()) as {
        invocations: Array<{ id: string; event: { headers: Record<string, string> } }>;
      };
      const delivered = own.invocations[0];

      // Everything the console can do: send samples, replay, run a job, rotate a key (until the old one is revoked).
      expect((await post("webhooks/payments-webhook/send", { type: "payment_intent.succeeded" })).status).toBe(200);
      expect((await post("webhooks/inventory-webhook/send", { type: "inventory.updated" })).status).toBe(200);
      expect((await post(`invocations/${delivered?.id}/replay`)).status).toBe(200);
      expect((await post("jobs/expire-stale-orders/run")).status).toBe(202);
      expect((await post("keys/payments-webhook/rotate")).status).toBe(202);
      for (let until = Date.now() + 20_000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
        const keys = (await (await api("keys")).json()) as { keys: Array<{ rotation?: { oldKeyRevokedAt?: string } }> };
        if (keys.keys.some((k) => k.rotation?.oldKeyRevokedAt)) break;
      }
      Object.assign(secrets, await storedSecrets("after rotation:"));
      const texts: string[] = [];
      for (const path of ["functions", "invocations", "jobs", "webhooks", "keys", "data", "data/Order?limit=100"])
        texts.push(await (await api(path)).text());
      const all = JSON.parse(texts[1] as string) as { invocations: Array<{ id: string }> };
      for (const { id } of all.invocations) texts.push(await (await api(`invocations/${id}`)).text());
      stream.abort();
      await reading;
      texts.push(streamed);

      expect(leaked(texts, secrets)).toEqual([]);
      // And the stream and the API did carry what was done, masked where it had secrets.
      expect(streamed).toMatch(/event: invocation\ndata: .*"function":"payments-webhook"/);
      expect(streamed).toMatch(/event: rotation\ndata: .*"oldKeyRevokedAt"/);
      expect(delivered?.event.headers).toMatchObject({
        "stripe-signature": "[REDACTED]",
        authorization: "[REDACTED]",
        "x-api-key": "[REDACTED]",
      });
      expect(all.invocations.length).toBeGreaterThanOrEqual(6);
    }, 40_000);
  });
});
