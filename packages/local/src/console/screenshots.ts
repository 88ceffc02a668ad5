/**
 * `npm run console:screenshots`: starts the app on a fresh data folder, does what a developer
 * would (a sample webhook, a job run, a key rotation) and saves a PNG of each console view to
 * `packages/local/docs/`, through the same browser the tests use.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startConsoleApp } from "../test-fixtures/console-app.js";
import { launchChromium } from "./browser.js";

const out = fileURLToPath(new URL("../../docs/", import.meta.url));
const app = await startConsoleApp("console-screenshots");
const browser = await launchChromium();
try {
  mkdirSync(out, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const base = app.consoleUrl;
  const shot = async (name: string) => {
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(out, `console-${name}.png`) });
    console.log(`wrote ${join(out, `console-${name}.png`)}`);
  };

  await page.goto(`${base}#view=webhooks`);
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator("#invocation-detail h3").waitFor();
  await page.locator("#invocation-detail").getByText("payment event applied").waitFor();
  const invocation = page.url();
  await page.goto(`${base}#view=jobs`);
  for (const job of ["expire-stale-orders", "low-stock-alerts"]) {
    const card = page.locator("article", { has: page.getByRole("heading", { name: job }) });
    await card.getByRole("button", { name: "Run now" }).click();
    await card.locator("tbody tr").first().getByText("complete").waitFor();
  }
  await page.goto(`${base}#view=keys`);
  await page.getByRole("button", { name: "Rotate payments-webhook's key now" }).click();
  await page
    .getByRole("region", { name: "Rotation of payments-webhook" })
    .getByText("revoked", { exact: true })
    .waitFor({ timeout: 20_000 });

  await page.goto(`${base}#view=functions`);
  await page.locator("#functions-table").waitFor();
  await shot("functions");
  await page.goto(invocation);
  await page.locator("#invocation-detail h3").waitFor();
  await shot("invocations");
  await page.goto(`${base}#view=jobs`);
  await page.locator("article tbody tr").first().waitFor();
  await shot("jobs");
  await page.goto(`${base}#view=webhooks`);
  await page.locator("form.send").waitFor();
  await shot("webhooks");
  await page.goto(`${base}#view=keys`);
  await page.locator("#keys-table").waitFor();
  await shot("keys");
  await page.goto(`${base}#view=data&entity=Order`);
  await page.locator("#records-table").waitFor();
  const first = await page.locator("#records-table tbody a").first().textContent();
  await page.goto(`${base}#view=data&entity=Order&id=${first}`);
  await page.locator("#view-data .detail h3").waitFor();
  await shot("data");
  await page.setViewportSize({ width: 400, height: 800 });
  await page.goto(invocation);
  await page.locator("#invocation-detail h3").waitFor();
  await shot("narrow");
} finally {
  await browser.close();
  await app.close();
}
