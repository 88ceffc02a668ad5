export * from "./built-in.js";
export * from "./errors.js";
export * from "./github.js";
export * from "./scheme.js";
export * from "./shopify.js";
export * from "./signing-secrets.js";
export * from "./standard-webhooks.js";
export * from "./stripe.js";
