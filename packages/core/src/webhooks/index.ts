export * from "./errors.js";
export * from "./standard-webhooks.js";
export * from "./stripe.js";
