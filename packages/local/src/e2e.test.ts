import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Order, Product, StockAlert } from "@flxbl-lambda/functions";
import { manifest } from "@flxbl-lambda/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RuntimeInfo } from "./runtime.js";
import {
  flxblAdmin,
  freePort,
  inventoryUpdated,
  paymentSucceeded,
  standardWebhookHeaders,
  stripeHeaders,
} from "./test-fixtures/app-client.js";

/*
 * `npm start` as a newcomer runs it: a child process on a free port and a fresh data folder.
 * The tests below are one story told in order (pay, restock, run the jobs, stop, start again),
 * so each builds on the state the previous one left; they share one runtime to keep the file
 * well under a minute.
 */

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const startTimeoutMs = 40_000;
const dayMs = 24 * 3_600_000;

/** A running `npm start`: its process group, what it printed so far and how it ended. */
interface App {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Polls `done` every 50 ms; rejects with `what` after `timeoutMs`, or as soon as `app` exits. */
async function waitFor(what: string, done: () => boolean, timeoutMs: number, app?: App): Promise<void> {
  let exited = false;
  void app?.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (exited) throw new Error(`npm start exited while waiting for ${what}:\n${app?.output().slice(-2000)}`);
    if (Date.now() > deadline)
      throw new Error(`no ${what} after ${timeoutMs} ms${app ? `:\n${app.output().slice(-2000)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether any process of the group is still alive. */
function groupAlive(groupId: number): boolean {
  try {
    process.kill(-groupId, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Node process that runs `cli.ts` in the group `npm start` leads (read from Linux's /proc).
 * Ctrl-C signals the whole group, and then `sh` and `npm` report death by SIGINT whatever the
 * script's status; only by signalling the runtime alone can a test see the exit code it chose.
 */
function runtimePid(groupId: number): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) !== groupId) continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      // tsx's own wrapper has the same last argument; the process it starts carries --import.
      if (argv.at(-1) === "packages/local/src/cli.ts" && argv.includes("--import")) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  throw new Error(`no runtime process in group ${groupId}`);
}

/** `npm <args>` from the repository root, with a bound, answering its exit code and output. */
function npm(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("npm", args, { cwd: repoRoot, env, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON document an npm script printed after npm's own banner lines. */
const printedJson = <T>(stdout: string): T => JSON.parse(stdout.slice(stdout.indexOf("\n{") + 1)) as T;

/** A digest to compare secrets by, so a failed assertion never prints one. */
const digest = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex");

describe("npm start, run as a user runs it", () => {
  let dataDir = "";
  let env: NodeJS.ProcessEnv;
  let app: App | undefined;
  let info: RuntimeInfo;
  let admin: ReturnType<typeof flxblAdmin>;
  const apps: App[] = [];

  const start = async (): Promise<App> => {
    const child = spawn("npm", ["start"], { cwd: repoRoot, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    for (const stream of [child.stdout, child.stderr])
      stream?.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
      });
    const started: App = {
      child,
      output: () => output,
      exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))),
    };
    apps.push(started);
    await waitFor('"Ready: gateway on"', () => output.includes("Ready: gateway on"), startTimeoutMs, started);
    info = JSON.parse(readFileSync(join(dataDir, "runtime.json"), "utf8")) as RuntimeInfo;
    admin = flxblAdmin(info.flxbl);
    return started;
  };
  const running = (): App => {
    if (!app) throw new Error("npm start is not running");
    return app;
  };
  const post = (url: string, headers: Record<string, string>, body: string) =>
    fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(15_000) });
  const runJob = async (name: string) => {
    const res = await fetch(`${info.gatewayUrl}/_local/jobs/${name}`, {
      method: "POST",
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, summary: (await res.json()) as unknown };
  };
  const paidOrder: { id?: string; paymentReference?: string } = {};
  let keyIdsBeforeStop: string[] = [];
  let openAlertIdsBeforeStop: string[] = [];
  let signingSecretsBeforeStop = "";

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "flxbl-e2e-"));
    const port = await freePort();
    // The variables `.env` could set are pinned, so a developer's own `.env` cannot change the test.
    env = {
      ...process.env,
      PORT: String(port),
      LOCAL_DATA_DIR: dataDir,
      FLXBL_URL: "",
      FLXBL_ADMIN_KEY: "",
      FLXBL_EMULATOR_PORT: "",
      LOCAL_DYNAMODB_PORT: "",
      LOCAL_SECRETS_MANAGER_PORT: "",
    };
    delete env.PENDING_ORDER_MAX_AGE;
    app = await start();
  }, startTimeoutMs + 5_000);

  afterAll(async () => {
    for (const started of apps) {
      const groupId = started.child.pid;
      if (groupId === undefined || !groupAlive(groupId)) continue;
      process.kill(-groupId, "SIGTERM");
      await waitFor("the process group to end", () => !groupAlive(groupId), 5_000).catch(() => {
        if (groupAlive(groupId)) process.kill(-groupId, "SIGKILL");
      });
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 15_000);

  it("prints one row per manifest function with its trigger and URL, then the gateway it listens on", () => {
    const lines = running().output().split("\n");
    for (const spec of manifest) {
      const fn = info.functions[spec.name];
      const url = fn?.url ?? `POST ${info.gatewayUrl}/_local/jobs/${spec.name}`;
      const row = lines.find((line) => line.startsWith(`${spec.name} `));
      expect(row, spec.name).toContain(fn?.trigger);
      expect(row, spec.name).toContain(url);
    }
    expect(lines).toContain(`Ready: gateway on ${info.gatewayUrl} (Ctrl-C to stop)`);
  });

  it("prints the console's URL, where the gateway serves the console page", async () => {
    const lines = running().output().split("\n");

    expect(lines).toContain(
      `Console: ${info.gatewayUrl}/_local/console/ (functions, invocations, jobs, webhooks, keys, data)`,
    );
    const res = await fetch(`${info.gatewayUrl}/_local/console/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("<title>flxbl-lambda local console</title>");
  });

  it("writes runtime.json with the gateway on PORT and an emulator the admin key opens", async () => {
    const orders = await admin.query<Order>("Order");

    expect(info.gatewayUrl).toBe(`http://127.0.0.1:${env.PORT}`);
    expect(Object.keys(info.functions).sort()).toEqual(manifest.map((s) => s.name).sort());
    expect(orders.length).toBeGreaterThan(0);
  });

  it("marks a pending order paid on a payment_intent.succeeded signed by the stripe package", async () => {
    const pending = await admin.query<Order>("Order", { status: "pending" });
    // A recent order, so the expiry job below leaves it alone whatever it does to stale ones.
    const order = pending.find((o) => Date.parse(o.createdAt) > Date.now() - dayMs);
    if (!order) throw new Error("the seed has no recent pending order");
    const payment = paymentSucceeded(order);
    const fn = info.functions["payments-webhook"];

    const res = await post(fn?.url ?? "", stripeHeaders(payment.body, fn?.signingSecrets?.[0] ?? ""), payment.body);

    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ eventId: payment.eventId, status: "applied", orderId: order.id });
    expect(await admin.get<Order>("Order", order.id)).toMatchObject({
      status: "paid",
      paymentReference: payment.paymentIntentId,
      paidAt: expect.any(String),
    });
    Object.assign(paidOrder, { id: order.id, paymentReference: payment.paymentIntentId });
  });

  it("sets a product's stock and stockVersion on an inventory.updated signed by the standardwebhooks package", async () => {
    const products = await admin.query<Product>("Product", { active: true });
    const product = products.find((p) => p.stock > p.lowStockThreshold);
    if (!product) throw new Error("the seed has no well-stocked active product");
    // Down to just under its threshold, so the alerts job below has one more product to flag.
    const delivery = inventoryUpdated({
      sku: product.sku,
      quantity: product.lowStockThreshold - 1,
      version: (product.stockVersion ?? 0) + 1,
    });
    const fn = info.functions["inventory-webhook"];

    const res = await post(
      fn?.url ?? "",
      standardWebhookHeaders(delivery.id, delivery.body, fn?.signingSecrets?.[0] ?? ""),
      delivery.body,
    );

    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ eventId: delivery.id, status: "applied", productId: product.id });
    expect(await admin.get<Product>("Product", product.id)).toMatchObject({
      stock: product.lowStockThreshold - 1,
      stockVersion: (product.stockVersion ?? 0) + 1,
      stockUpdatedAt: delivery.timestamp,
    });
  });

  it("expires the seeded stale order ORD-1001 on POST /_local/jobs/expire-stale-orders and answers the run summary", async () => {
    const stale = (await admin.query<Order>("Order", { status: "pending" })).filter(
      (o) => Date.parse(o.createdAt) < Date.now() - dayMs,
    );
    expect(stale.map((o) => o.number)).toContain("ORD-1001");

    const { status, summary } = await runJob("expire-stale-orders");

    expect(status).toBe(200);
    expect(summary).toMatchObject({
      job: "expire-stale-orders",
      scanned: stale.length,
      changed: stale.length,
      failed: 0,
      complete: true,
    });
    for (const order of stale)
      expect(await admin.get<Order>("Order", order.id)).toMatchObject({
        status: "expired",
        expiredAt: expect.any(String),
      });
    expect(await admin.get<Order>("Order", paidOrder.id ?? "")).toMatchObject({ status: "paid" });
  });

  it("opens one StockAlert per low active product on POST /_local/jobs/low-stock-alerts", async () => {
    const products = await admin.query<Product>("Product");
    const low = products.filter((p) => p.active && p.stock <= p.lowStockThreshold);

    const { status, summary } = await runJob("low-stock-alerts");
    const open = await admin.query<StockAlert>("StockAlert", { status: "open" });

    expect(status).toBe(200);
    expect(summary).toMatchObject({
      job: "low-stock-alerts",
      scanned: products.length,
      changed: low.length,
      complete: true,
    });
    expect(open.map((a) => a.productId).sort()).toEqual(low.map((p) => p.id).sort());
    for (const alert of open) {
      const product = low.find((p) => p.id === alert.productId);
      expect(alert).toMatchObject({ sku: product?.sku, stock: product?.stock, threshold: product?.lowStockThreshold });
    }
  });

  it("runs a job with npm run job, which prints its summary and exits 0", async () => {
    const stale = (await admin.query<Order>("Order", { status: "pending" })).filter(
      (o) => Date.parse(o.createdAt) < Date.now() - dayMs,
    );
    const invocations = () =>
      running()
        .output()
        .match(/\[invoke\] expire-stale-orders \S+ scheduled -> ok \(\d+ ms\)/g)?.length ?? 0;
    const before = invocations();

    const { code, stdout } = await npm(["run", "job", "--", "expire-stale-orders"], env);

    expect(code).toBe(0);
    expect(printedJson(stdout)).toMatchObject({
      job: "expire-stale-orders",
      scanned: stale.length,
      complete: true,
      runId: expect.any(String),
    });
    await waitFor("the run's [invoke] line in npm start's output", () => invocations() === before + 1, 5_000);
  }, 30_000);

  it("sends a signed sample payment with npm run webhook, which pays the order given or a new one, and exits 0", async () => {
    const order = await admin.create<Order>("Order", {
      number: "ORD-E2E-1",
      status: "pending",
      total: 4200,
      currency: "eur",
    });
    const given = await npm(["run", "webhook", "--", "payments-webhook", "payment_intent.succeeded", order.id], env);
    expect(given.code).toBe(0);
    const answer = given.stdout.split("\n").find((line) => line.startsWith("200 "));
    expect(JSON.parse(answer?.slice(4) ?? "{}")).toMatchObject({ status: "applied", orderId: order.id, to: "paid" });
    expect(await admin.get<Order>("Order", order.id)).toMatchObject({ status: "paid" });

    // Without an order id, a new pending order with a matching total, paid by the event.
    const fresh = await npm(["run", "webhook", "--", "payments-webhook", "payment_intent.succeeded"], env);
    expect(fresh.code).toBe(0);
    const created = /Created pending order (\S+) /.exec(fresh.stdout)?.[1] ?? "";
    const paid = JSON.parse(
      fresh.stdout
        .split("\n")
        .find((line) => line.startsWith("200 "))
        ?.slice(4) ?? "{}",
    );
    expect(paid).toMatchObject({ status: "applied", orderId: created, from: "pending", to: "paid" });
    expect(await admin.get<Order>("Order", created)).toMatchObject({ status: "paid" });
  }, 30_000);

  it("exits with code 0 on SIGINT, leaving no process behind", async () => {
    const stopping = running();
    const groupId = stopping.child.pid ?? 0;
    keyIdsBeforeStop = (await admin.request<Array<{ id: string }>>("GET", "/api-keys")).map((k) => k.id).sort();
    openAlertIdsBeforeStop = (await admin.query<StockAlert>("StockAlert", { status: "open" })).map((a) => a.id).sort();
    signingSecretsBeforeStop = digest(Object.values(info.functions).map((f) => f.signingSecrets ?? []));

    process.kill(runtimePid(groupId), "SIGINT");
    const exit = await Promise.race([
      stopping.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no exit 15 s after SIGINT")), 15_000)),
    ]);
    await waitFor("the process group to end", () => !groupAlive(groupId), 5_000);

    expect(exit).toEqual({ code: 0, signal: null });
    expect(stopping.output()).toContain("Stopping...");
    app = undefined;
  }, 25_000);

  describe("started again on the same data folder", () => {
    beforeAll(async () => {
      app = await start();
    }, startTimeoutMs + 5_000);

    it("still has the paid order and the open stock alerts", async () => {
      const order = await admin.get<Order>("Order", paidOrder.id ?? "");
      const open = await admin.query<StockAlert>("StockAlert", { status: "open" });

      expect(order).toMatchObject({ status: "paid", paymentReference: paidOrder.paymentReference });
      expect(open.map((a) => a.id).sort()).toEqual(openAlertIdsBeforeStop);
    });

    it("keeps every function's key: provisioning says kept and FLXBL lists no new key", async () => {
      const keyIds = (await admin.request<Array<{ id: string }>>("GET", "/api-keys")).map((k) => k.id).sort();

      for (const spec of manifest) expect(running().output()).toMatch(new RegExp(`key for ${spec.name}: kept \\(`));
      expect(keyIds).toEqual(keyIdsBeforeStop);
    });

    it("keeps the webhooks' signing secrets, so senders need no change", () => {
      const signingSecrets = digest(Object.values(info.functions).map((f) => f.signingSecrets ?? []));

      expect(signingSecrets).toBe(signingSecretsBeforeStop);
    });

    it("stops every process of the group on Ctrl-C", async () => {
      const stopping = running();
      const groupId = stopping.child.pid ?? 0;

      // What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
      process.kill(-groupId, "SIGINT");
      await waitFor("the process group to end after Ctrl-C", () => !groupAlive(groupId), 15_000);

      expect(stopping.output()).toContain("Stopping...");
      expect(stopping.output()).not.toContain("npm start failed");
      app = undefined;
    }, 20_000);
  });
});
