export * from "./errors.js";
export * from "./signing-secrets.js";
export * from "./standard-webhooks.js";
export * from "./stripe.js";
