export * from "./errors.js";
export * from "./flxbl.js";
export * from "./http-errors.js";
export * from "./idempotency.js";
export * from "./sanitize-errors.js";
export * from "./webhook.js";
