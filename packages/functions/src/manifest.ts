import { defineManifest, type JobSpec, type WebhookSpec } from "@flxbl-lambda/core/lambda";

/** The SST app's name: stacks, secrets (`<app>/<stage>/<function>`) and key names start with it. */
export const appName = "flxbl-lambda";

/** Whether a stage is production: live Stripe events only, point-in-time recovery on. */
export function isProductionStage(stage: string | undefined): boolean {
  return stage === "prod";
}

/** `POST /webhooks/payments`: Stripe events move orders to paid / refunded. */
export const paymentsWebhook = {
  name: "payments-webhook",
  description: "Applies Stripe payment events to FLXBL orders",
  handler: "packages/functions/src/webhooks/payments.handler",
  trigger: { kind: "http", method: "POST", path: "/webhooks/payments" },
  signature: "stripe",
  scopes: ["entity:Order:read", "entity:Order:update"],
  locks: ["order"],
  timeoutSeconds: 10,
  memoryMb: 256,
} as const satisfies WebhookSpec;

/** `POST /webhooks/inventory`: Standard Webhooks stock updates set a product's stock. */
export const inventoryWebhook = {
  name: "inventory-webhook",
  description: "Applies inventory.updated events to FLXBL products",
  handler: "packages/functions/src/webhooks/inventory.handler",
  trigger: { kind: "http", method: "POST", path: "/webhooks/inventory" },
  signature: "standard-webhooks",
  scopes: ["entity:Product:read", "entity:Product:update"],
  locks: ["product"],
  timeoutSeconds: 10,
  memoryMb: 256,
} as const satisfies WebhookSpec;

/** Every 15 minutes: pending orders older than `PENDING_ORDER_MAX_AGE` become expired. */
export const expireStaleOrders = {
  name: "expire-stale-orders",
  description: "Expires pending orders older than PENDING_ORDER_MAX_AGE",
  handler: "packages/functions/src/jobs/expire-stale-orders.handler",
  trigger: { kind: "schedule", expression: "rate(15 minutes)" },
  scopes: ["entity:Order:read", "entity:Order:update"],
  // The payments webhook's lock: an order is never expired while a payment is being applied.
  locks: ["order"],
  timeoutSeconds: 300,
  memoryMb: 256,
  environment: { PENDING_ORDER_MAX_AGE: "PT24H" },
} as const satisfies JobSpec;

/** Daily at 06:00 UTC: one open StockAlert per low product; restocked ones resolved. */
export const lowStockAlerts = {
  name: "low-stock-alerts",
  description: "Keeps one open StockAlert per product at or under its threshold",
  handler: "packages/functions/src/jobs/low-stock-alerts.handler",
  trigger: { kind: "schedule", expression: "cron(0 6 * * ? *)" },
  scopes: ["entity:Product:read", "entity:StockAlert:read", "entity:StockAlert:create", "entity:StockAlert:update"],
  timeoutSeconds: 300,
  memoryMb: 256,
} as const satisfies JobSpec;

/**
 * The rotation function of every function secret: not a manifest entry (it has no FLXBL scopes
 * and no trigger of its own; Secrets Manager invokes it), but deployed by the Keys stack and run
 * by `npm start` for `RotateSecret`. Its authority is the manifest below, bundled with it.
 */
export const rotationFunction = {
  name: "rotate-key",
  description: "Rotates each function's FLXBL key (Secrets Manager rotation protocol)",
  handler: "packages/functions/src/rotation/rotate-key.handler",
  // finishSecret waits out the grace period before revoking the old key.
  timeoutSeconds: 900,
  memoryMb: 256,
} as const;

/**
 * Every function of the app, declared once. Stacks, key provisioning, the client's scope guard
 * and `npm start` are built from this list.
 */
export const manifest = defineManifest([
  paymentsWebhook,
  inventoryWebhook,
  expireStaleOrders,
  lowStockAlerts,
] as const satisfies readonly (WebhookSpec | JobSpec)[]);
