/**
 * `@flxbl-lambda/core/webhooks`: `webhookHandler`, its middlewares (signature, idempotency) and the
 * signature schemes.
 */
export * from "./middleware/idempotency.js";
export * from "./middleware/webhook.js";
export * from "./middleware/webhook-outcome.js";
export * from "./webhook-handler.js";
export * from "./webhooks/index.js";
