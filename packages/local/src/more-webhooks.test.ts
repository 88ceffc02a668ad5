import { createHmac, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign as signGitHub } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Runtime, startRuntime } from "./runtime.js";
import { isolatedEnv, printed, runScript } from "./test-fixtures/keys-cli.js";
import { manifestWithMoreWebhooks } from "./test-fixtures/more-webhooks.js";

/**
 * A GitHub and a Shopify webhook added to the app with a manifest entry and a handler file each
 * (`test-fixtures/more-webhooks.ts`, `github-webhook.ts`, `shopify-webhook.ts`), served by the
 * local runtime: each gets a signing secret of its sender's shape, and deliveries signed the way
 * each sender documents are verified, forged ones refused and duplicates answered once.
 */
describe("webhooks of other senders, added with a manifest entry and a handler file", () => {
  let runtime: Runtime;
  let dataDir: string;
  const lines: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "flxbl-more-webhooks-"));
    runtime = await startRuntime({
      manifest: manifestWithMoreWebhooks,
      port: 0,
      dataDir,
      schedules: false,
      log: (line) => lines.push(line),
      functionLog: (fn, line) => lines.push(`${fn} | ${line}`),
    });
  }, 60_000);
  afterAll(async () => {
    await runtime?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const fn = (name: string) => {
    const info = runtime.info.functions[name];
    if (!info?.url || !info.signingSecrets?.[0]) throw new Error(`${name} is not served`);
    return { url: info.url, secret: info.signingSecrets[0], signature: info.signature };
  };
  const post = async (url: string, headers: Record<string, string>, body: string) => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    return { status: res.status, text: await res.text() };
  };
  /** How often FLXBL saw the route: a replayed delivery does not reach the handler. */
  const flxblCalls = async (template: string) => {
    const res = await fetch(`${runtime.info.flxbl.url.replace(/\/api\/v1$/, "")}/_emulator/stats`, {
      headers: { authorization: `Bearer ${runtime.info.flxbl.adminKey}` },
    });
    return ((await res.json()) as { routes: Record<string, number> }).routes[template] ?? 0;
  };

  describe("GitHub (X-Hub-Signature-256, signed with @octokit/webhooks-methods)", () => {
    const push = JSON.stringify({ ref: "refs/heads/main", repository: { full_name: "acme/shop" } });
    const headers = async (body: string, secret: string, event = "push", delivery = randomUUID()) => ({
      "x-hub-signature-256": await signGitHub(secret, body),
      "x-github-event": event,
      "x-github-delivery": delivery,
      "user-agent": "GitHub-Hookshot/test",
    });

    it("is given a signing secret of GitHub's shape and served on its route", () => {
      const { secret, signature } = fn("repo-events");
      expect(signature).toBe("github");
      expect(secret).toMatch(/^[0-9a-f]{64}$/);
      expect(lines.join("\n")).not.toContain(secret);
    });

    it("applies a signed delivery, answers its duplicate from the idempotency record, and refuses a forgery", async () => {
      const { url, secret } = fn("repo-events");
      const delivery = randomUUID();
      const before = await flxblCalls("POST /dynamic/Product/query");

      const first = await post(url, await headers(push, secret, "push", delivery), push);
      const again = await post(url, await headers(push, secret, "push", delivery), push);
      const forged = await post(url, await headers(push, "a-secret-that-is-not-the-hook-secret"), push);
      const unsigned = await post(url, { "x-github-event": "push", "x-github-delivery": randomUUID() }, push);

      expect(first.status).toBe(200);
      expect(JSON.parse(first.text)).toMatchObject({
        eventId: delivery,
        type: "push",
        detail: "acme/shop refs/heads/main",
      });
      expect(again).toEqual(first);
      expect(await flxblCalls("POST /dynamic/Product/query")).toBe(before + 1);
      expect(forged.status).toBe(401);
      expect(JSON.parse(forged.text)).toEqual({ message: "no matching signature" });
      expect(unsigned.status).toBe(401);
    });

    it("acknowledges an event type its handler does not list, and refuses a listed one that does not fit", async () => {
      const { url, secret } = fn("repo-events");
      const issue = JSON.stringify({ action: "opened" });
      const bad = JSON.stringify({ ref: 42 });

      const ignored = await post(url, await headers(issue, secret, "issues"), issue);
      const invalid = await post(url, await headers(bad, secret, "push"), bad);

      expect(ignored.status).toBe(200);
      expect(JSON.parse(ignored.text)).toMatchObject({ status: "ignored", reason: "event type issues is not handled" });
      expect(invalid.status).toBe(400);
      expect(JSON.parse(invalid.text)).toMatchObject({ message: "push event is invalid" });
    });

    it("takes a signed sample from npm run webhook", async () => {
      const run = await runScript(
        "webhook",
        ["repo-events", "ping", JSON.stringify({ zen: "Keep it logically awesome." })],
        isolatedEnv({ LOCAL_DATA_DIR: dataDir }),
      );

      expect(run.code, printed(run)).toBe(0);
      expect(run.stdout).toMatch(/^200 .*"type":"ping","detail":"Keep it logically awesome\."/);
    });

    it("sends a sample again under the same id with --id, and gets the stored answer", async () => {
      const id = randomUUID();
      const send = (zen: string) =>
        runScript(
          "webhook",
          ["repo-events", "ping", JSON.stringify({ zen }), "--id", id],
          isolatedEnv({ LOCAL_DATA_DIR: dataDir }),
        );

      const before = await flxblCalls("POST /dynamic/Product/query");
      const first = await send("First.");
      const again = await send("First.");

      expect(first.code, printed(first)).toBe(0);
      expect(first.stdout).toContain(`"eventId":"${id}"`);
      expect(again.stdout).toBe(first.stdout);
      // The handler ran once: the second answer came from the idempotency record.
      expect(await flxblCalls("POST /dynamic/Product/query")).toBe(before + 1);
    });
  });

  describe("Shopify (X-Shopify-Hmac-Sha256, signed as Shopify's docs compute it)", () => {
    const order = JSON.stringify({ id: 820982911946154500, total_price: "199.00", currency: "EUR" });
    // Shopify's documented check: base64 of the HMAC-SHA256 of the raw body with the app's client secret.
    const headers = (body: string, secret: string, delivery = randomUUID()) => ({
      "x-shopify-hmac-sha256": createHmac("sha256", secret).update(body, "utf8").digest("base64"),
      "x-shopify-topic": "orders/create",
      "x-shopify-webhook-id": delivery,
      "x-shopify-shop-domain": "acme.myshopify.com",
    });

    it("applies a signed delivery, answers its duplicate once, and refuses a forgery", async () => {
      const { url, secret, signature } = fn("shop-orders");
      const delivery = randomUUID();
      const before = await flxblCalls("POST /dynamic/Order/query");

      const first = await post(url, headers(order, secret, delivery), order);
      const again = await post(url, headers(order, secret, delivery), order);
      const tampered = await post(url, headers(order, secret), order.replace("199.00", "1.00"));
      const forged = await post(url, headers(order, "not-the-client-secret-not-the-client-secret"), order);

      expect(signature).toBe("shopify");
      expect(first.status).toBe(200);
      expect(JSON.parse(first.text)).toMatchObject({ eventId: delivery, total: "199.00 EUR" });
      expect(again).toEqual(first);
      expect(await flxblCalls("POST /dynamic/Order/query")).toBe(before + 1);
      // The signature covers the body as sent: a changed body no longer matches.
      expect(tampered.status).toBe(401);
      expect(forged.status).toBe(401);
    });
  });
});
