import { manifest, type Order } from "@flxbl-lambda/functions";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../runtime.js";
import { flxblAdmin } from "../test-fixtures/app-client.js";
import { startConsoleApp } from "../test-fixtures/console-app.js";
import { launchChromium } from "./browser.js";

/**
 * The console in headless Chromium (Debian's `chromium`, driven by playwright-core) against a
 * real `npm start` runtime: what a developer sees and clicks, read from the DOM as text.
 */
describe("the local console in a browser", () => {
  let app: Awaited<ReturnType<typeof startConsoleApp>>;
  let runtime: Runtime;
  let browser: Browser;
  let page: Page;
  /** Errors the page raised and requests it made to anywhere but the console's origin. */
  const pageErrors: string[] = [];
  const foreignRequests: string[] = [];
  const logTail = () => app.logTail();
  const consoleUrl = () => app.consoleUrl;
  /** Waits up to `ms` for the locator to be visible. */
  const visible = (locator: Locator, ms = 15_000) => locator.waitFor({ state: "visible", timeout: ms });
  /** The locator's text as it is now ("" while it is not there), for `expect.poll`. */
  const text = (locator: Locator) => () => locator.textContent({ timeout: 500 }).catch(() => "");
  const poll = { timeout: 15_000 };

  const watch = (p: Page) => {
    p.on("pageerror", (err) => pageErrors.push(err.message));
    p.on("request", (req) => {
      if (!req.url().startsWith(new URL(consoleUrl()).origin)) foreignRequests.push(req.url());
    });
  };

  beforeAll(async () => {
    // The browser first: without one the file fails at once, saying how to install it.
    browser = await launchChromium();
    app = await startConsoleApp("console-browser");
    runtime = app.runtime;
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    watch(page);
    await page.goto(consoleUrl());
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it("lists every manifest function with its trigger, its scopes and a working key", async () => {
    const table = page.locator("#functions-table");
    await visible(table);

    for (const spec of manifest) {
      const row = table.locator("tbody tr", { has: page.locator(`a[data-function="${spec.name}"]`) });
      const trigger =
        spec.trigger.kind === "http" ? `${spec.trigger.method} ${spec.trigger.path}` : spec.trigger.expression;
      await expect.poll(text(row), poll).toContain(trigger);
      for (const scope of spec.scopes) await expect.poll(text(row), poll).toContain(scope);
      await expect.poll(text(row), poll).toContain("works yes");
      await expect.poll(text(row), poll).toContain("scopes match");
    }
    expect(await table.locator("tbody tr").count()).toBe(manifest.length);
  });

  let invocationHash = "";
  let orderId = "";

  it("sends a signed sample webhook from the page and shows its invocation: 200, its log lines, the signature masked", async () => {
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByLabel("Webhook", { exact: true }).selectOption("payments-webhook");
    await page.getByLabel("Event type").selectOption("payment_intent.succeeded");
    await page.getByRole("button", { name: "Send" }).click();

    const detail = page.locator("#invocation-detail");
    await visible(detail.getByRole("heading", { name: /payments-webhook 200/ }));
    await expect
      .poll(text(detail.getByRole("list", { name: "Log lines" })), { timeout: 10_000 })
      .toContain("payment event applied");
    const signature = detail.locator("tr", { has: page.locator("code", { hasText: /^stripe-signature$/ }) });
    await expect.poll(text(signature), poll).toContain("[REDACTED]");
    await expect.poll(text(detail), poll).toContain('"to": "paid"');
    invocationHash = new URL(page.url()).hash;
    expect(invocationHash, logTail()).toMatch(/view=invocations/);
    orderId = (await detail.getByRole("link", { name: /^Order node_/ }).textContent())?.replace("Order ", "") ?? "";
    expect(orderId).toMatch(/^node_/);
    const calls = await detail.locator("#flxbl-calls tbody tr").allTextContents();
    expect(
      calls.some((c) => c.startsWith(`GET/dynamic/Order/${orderId}200`)),
      calls.join("\n"),
    ).toBe(true);
  });

  it("opens the order that webhook paid in the data view", async () => {
    await page
      .locator("#invocation-detail")
      .getByRole("link", { name: `Order ${orderId}` })
      .click();

    const record = page.locator("#view-data .detail");
    await visible(record.getByRole("heading", { name: `Order ${orderId}` }));
    await expect.poll(text(record.locator("dd").nth(2)), poll).toMatch(/./);
    await expect.poll(text(record), poll).toContain("paid");
    const admin = flxblAdmin(runtime.info.flxbl);
    expect((await admin.get<Order>("Order", orderId)).status).toBe("paid");
  });

  it("replays that delivery: idempotency answers it with the stored answer, and the new invocation says what it replays", async () => {
    await page.goto(`${consoleUrl()}${invocationHash}`);
    const original = (await page.locator("#invocation-detail pre").last().textContent()) ?? "";
    await page.getByRole("button", { name: "Replay this delivery" }).click();

    const detail = page.locator("#invocation-detail");
    await visible(detail.getByRole("link", { name: "the original delivery" }));
    await expect.poll(text(detail.getByRole("heading", { level: 3 })), poll).toContain("200");
    expect(await detail.locator("pre").last().textContent()).toBe(original);
  });

  it("runs a job now and shows its summary, then opens the order it expired", async () => {
    const admin = flxblAdmin(runtime.info.flxbl);
    const stale = await admin.create<Order>("Order", {
      number: `ORD-CONSOLE-${Date.now()}`,
      status: "pending",
      total: 990,
      currency: "eur",
    });
    await page.getByRole("link", { name: "Jobs" }).click();
    const card = page.locator("article", { has: page.getByRole("heading", { name: "expire-stale-orders" }) });
    await card.getByRole("button", { name: "Run now" }).click();

    const latest = card.locator("tbody tr").first();
    await expect.poll(text(latest), { timeout: 15_000 }).toContain("complete");
    const cells = await latest.locator("td").allTextContents();
    expect(cells[1], logTail()).toBe("ok");
    expect(Number(cells[4]), `changed: ${cells.join(" | ")}`).toBeGreaterThanOrEqual(1);

    await page.getByRole("link", { name: "Data" }).click();
    await page.getByRole("link", { name: /^Order \(\d+\)$/ }).click();
    await page.locator("#records-table").getByRole("link", { name: stale.id }).click();
    const record = page.locator("#view-data .detail");
    await visible(record.getByRole("heading", { name: `Order ${stale.id}` }));
    await expect.poll(text(record), poll).toContain("expired");
  });

  it("rotates a key from the keys view: the four steps, the old key revoked, and the key healthy after", async () => {
    await page.getByRole("link", { name: "Keys" }).click();
    const row = page.locator("#keys-table tbody tr", { hasText: "inventory-webhook" });
    const before = (await row.locator("td").nth(5).textContent()) ?? "";
    await row.getByRole("button", { name: "Rotate inventory-webhook's key now" }).click();

    const rotation = page.getByRole("region", { name: "Rotation of inventory-webhook" });
    const stepList = rotation.getByRole("list", { name: "Rotation steps" }).locator("li");
    // finishSecret ends after the grace period (2 s here), when it has revoked the old key.
    await expect.poll(text(stepList.last()), { timeout: 20_000 }).toMatch(/^finishSecret ok/);
    await expect.poll(text(rotation), poll).toContain("revoked");
    const steps = await stepList.allTextContents();
    expect(
      steps.map((s) => s.split(" ")[0]),
      logTail(),
    ).toEqual(["createSecret", "setSecret", "testSecret", "finishSecret"]);
    for (const step of steps) expect(step).toContain("ok");
    await expect.poll(text(row.locator("[data-health]")), poll).toBe("healthy");
    expect(await row.locator("td").nth(5).textContent()).not.toBe(before);
  });

  it("keeps the view, its filters and the open invocation across a reload", async () => {
    const id = new URLSearchParams(invocationHash.slice(1)).get("id");
    await page.goto(`${consoleUrl()}#view=invocations&function=payments-webhook&status=ok&id=${id}`);
    await page.reload();

    await expect.poll(() => page.getByLabel("Function", { exact: true }).inputValue(), poll).toBe("payments-webhook");
    await expect.poll(() => page.getByLabel("Status", { exact: true }).inputValue(), poll).toBe("ok");
    await visible(page.locator("#invocation-detail").getByRole("heading", { name: /payments-webhook 200/ }));
    await expect
      .poll(() => page.getByRole("link", { name: "Invocations" }).getAttribute("aria-current"), poll)
      .toBe("page");
    const functions = await page.locator("#invocations-table tbody tr td:nth-child(2)").allTextContents();
    expect(new Set(functions)).toEqual(new Set(["payments-webhook"]));
  });

  it("is reached from the keyboard: Tab lands on the views, Enter opens one and moves focus to its heading", async () => {
    await page.goto(`${consoleUrl()}#view=functions`);
    await visible(page.locator("#functions-table"));
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    expect(await page.evaluate<string>("document.activeElement.textContent")).toBe("Invocations");
    await page.keyboard.press("Enter");

    await expect
      .poll(() => page.getByRole("link", { name: "Invocations" }).getAttribute("aria-current"), poll)
      .toBe("page");
    await expect.poll(() => page.evaluate<string>("document.activeElement.id"), poll).toBe("h-invocations");
  });

  it("fits a 400-pixel window: no sideways scrolling of the page, every view link on screen", async () => {
    const narrow = await browser.newPage({ viewport: { width: 400, height: 800 } });
    watch(narrow);
    try {
      for (const view of ["functions", "invocations", "keys"]) {
        await narrow.goto(`${consoleUrl()}#view=${view}`);
        await visible(narrow.locator(`#view-${view} table`).first());
        const width = await narrow.evaluate<number>("document.documentElement.scrollWidth");
        expect(width, view).toBeLessThanOrEqual(400);
      }
      const boxes = await Promise.all(
        (await narrow.getByRole("navigation", { name: "Views" }).getByRole("link").all()).map((l) => l.boundingBox()),
      );
      expect(boxes).toHaveLength(6);
      for (const box of boxes) {
        expect(box?.x).toBeGreaterThanOrEqual(0);
        expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(400);
      }
    } finally {
      await narrow.close();
    }
  });

  it("raised no script error and fetched nothing from another origin", () => {
    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);
  });
});
