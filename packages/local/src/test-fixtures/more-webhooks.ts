import { defineManifest, type WebhookSpec } from "@flxbl-lambda/core/lambda";
import { manifest } from "@flxbl-lambda/functions";

/**
 * Two webhooks added the way the functions README says: a manifest entry and a handler file each,
 * nothing in core. The local runtime test runs the app's manifest with these added.
 */
export const githubWebhook = {
  name: "repo-events",
  description: "Receives GitHub push and ping events",
  handler: "packages/local/src/test-fixtures/github-webhook.handler",
  trigger: { kind: "http", method: "POST", path: "/webhooks/repo-events" },
  signature: "github",
  scopes: ["entity:Product:read"],
  timeoutSeconds: 10,
} as const satisfies WebhookSpec;

export const shopifyWebhook = {
  name: "shop-orders",
  description: "Receives Shopify orders/create events",
  handler: "packages/local/src/test-fixtures/shopify-webhook.handler",
  trigger: { kind: "http", method: "POST", path: "/webhooks/shop-orders" },
  signature: "shopify",
  scopes: ["entity:Order:read"],
  timeoutSeconds: 10,
} as const satisfies WebhookSpec;

export const manifestWithMoreWebhooks = defineManifest([...manifest, githubWebhook, shopifyWebhook]);
