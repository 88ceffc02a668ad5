import { defineManifest, type JobSpec, type WebhookSpec } from "@flxbl-lambda/core";

/**
 * A manifest shaped like a shop's: a Stripe and a Standard Webhooks webhook, two jobs, and two
 * functions (`payments-webhook`, `expire-stale-orders`) with the same scopes, so provisioning is
 * tested on every kind of function without knowing the app. Its handlers are never loaded.
 */
export const manifest = defineManifest([
  {
    name: "payments-webhook",
    description: "Stripe payments",
    handler: "test-fixtures/none.handler",
    trigger: { kind: "http", method: "POST", path: "/webhooks/payments" },
    signature: "stripe",
    scopes: ["entity:Order:read", "entity:Order:update"],
    timeoutSeconds: 10,
  },
  {
    name: "inventory-webhook",
    description: "Standard Webhooks stock updates",
    handler: "test-fixtures/none.handler",
    trigger: { kind: "http", method: "POST", path: "/webhooks/inventory" },
    signature: "standard-webhooks",
    scopes: ["entity:Product:read", "entity:Product:update"],
    timeoutSeconds: 10,
  },
  {
    name: "expire-stale-orders",
    description: "Expires old pending orders",
    handler: "test-fixtures/none.handler",
    trigger: { kind: "schedule", expression: "rate(15 minutes)" },
    scopes: ["entity:Order:read", "entity:Order:update"],
    timeoutSeconds: 300,
  },
  {
    name: "low-stock-alerts",
    description: "Alerts on low stock",
    handler: "test-fixtures/none.handler",
    trigger: { kind: "schedule", expression: "cron(0 6 * * ? *)" },
    scopes: ["entity:Product:read", "entity:StockAlert:read", "entity:StockAlert:create", "entity:StockAlert:update"],
    timeoutSeconds: 300,
  },
] as const satisfies readonly (WebhookSpec | JobSpec)[]);

/** A FLXBL schema with the entities the manifest's scopes name, for the emulator. */
export const schema = {
  name: "provisioning-test-shop",
  entities: [
    { name: "Product", fields: [{ name: "sku", type: "STRING", required: true }] },
    { name: "Order", fields: [{ name: "number", type: "STRING", required: true }] },
    { name: "StockAlert", fields: [{ name: "sku", type: "STRING", required: true }] },
  ],
};
