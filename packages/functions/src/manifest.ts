import { defineManifest, type JobSpec, type WebhookSpec } from "@flxbl-lambda/core";

/** `POST /webhooks/payments`: Stripe events move orders to paid / refunded. */
export const paymentsWebhook = {
  name: "payments-webhook",
  description: "Applies Stripe payment events to FLXBL orders",
  handler: "packages/functions/src/webhooks/payments.handler",
  trigger: { kind: "http", method: "POST", path: "/webhooks/payments" },
  signature: "stripe",
  scopes: ["entity:Order:read", "entity:Order:update"],
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
  timeoutSeconds: 10,
  memoryMb: 256,
} as const satisfies WebhookSpec;

/**
 * Every function of the app, declared once. Stacks, key provisioning, the client's scope guard
 * and `npm start` are built from this list.
 */
export const manifest = defineManifest([paymentsWebhook, inventoryWebhook] as const satisfies readonly (
  | WebhookSpec
  | JobSpec
)[]);
