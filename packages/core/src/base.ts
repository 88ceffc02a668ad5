/**
 * `@flxbl-lambda/core/lambda`: what every function uses, and only that: `flxblHandler`, the
 * function's environment, the FLXBL client, the logger, the manifest and the errors with their
 * HTTP answers. No DynamoDB client and no Powertools idempotency: those come with
 * `@flxbl-lambda/core/webhooks`, `/jobs` and `/state`, in the functions that use them.
 */
export * from "./aws.js";
export * from "./contract.js";
export * from "./env.js";
export * from "./flxbl/index.js";
export * from "./lambda.js";
export * from "./log/logger.js";
export * from "./log/redact.js";
export * from "./log/sanitize-error.js";
export * from "./manifest.js";
export * from "./middleware/errors.js";
export * from "./middleware/flxbl.js";
export * from "./middleware/http-errors.js";
export * from "./middleware/sanitize-errors.js";
export * from "./observe/catalog.js";
export * from "./observe/telemetry.js";
export * from "./observe/tracing.js";
export * from "./schedule.js";
