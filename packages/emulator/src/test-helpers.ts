import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Emulator, type EmulatorConfig, startEmulator } from "./index.js";

/**
 * The shop schema the emulator's and core's tests run against (Product, Order, StockAlert): a copy
 * of the sample app's, kept here so these packages test against a schema of their own, whatever
 * the app does to its schema.
 */
export const appSchema: unknown = JSON.parse(
  readFileSync(fileURLToPath(new URL("./test-fixtures/shop-schema.json", import.meta.url)), "utf8"),
);

/** A response read once: status, headers and the parsed JSON body (undefined when empty). */
export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** A tiny HTTP helper bound to one key: real requests, no client library in between. */
export function as(emulator: Emulator, key: string | undefined) {
  async function call<T = any>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
    const headers: Record<string, string> = {};
    if (key !== undefined) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${emulator.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
  }
  return {
    get: <T = any>(path: string) => call<T>("GET", path),
    post: <T = any>(path: string, body?: unknown) => call<T>("POST", path, body),
    put: <T = any>(path: string, body?: unknown) => call<T>("PUT", path, body),
    patch: <T = any>(path: string, body?: unknown) => call<T>("PATCH", path, body),
    delete: <T = any>(path: string) => call<T>("DELETE", path),
    call,
  };
}

/** Starts an emulator with the app schema (in memory unless `db` is given). */
export function startAppEmulator(config: Partial<EmulatorConfig> = {}): Promise<Emulator> {
  return startEmulator({ schema: appSchema, ...config });
}

/** A valid Product body; override what the test is about. */
export function product(overrides: Record<string, unknown> = {}) {
  return { sku: "SKU-1", name: "Widget", price: 9.5, stock: 10, lowStockThreshold: 3, active: true, ...overrides };
}

/** A valid Order body; override what the test is about. */
export function order(overrides: Record<string, unknown> = {}) {
  return { number: "ORD-1", status: "pending", total: 1999, currency: "eur", ...overrides };
}

/** Creates a key with exactly `scopes` through the admin API and returns it. */
export async function keyWith(emulator: Emulator, scopes: string[], name = "test key"): Promise<string> {
  const res = await as(emulator, emulator.adminKey).post<{ key: string }>("/api-keys", { name, scopes });
  if (res.status !== 201) throw new Error(`creating a key answered ${res.status}`);
  return res.body.key;
}
