export * from "./env.js";
export * from "./flxbl/index.js";
export * from "./keys/index.js";
export * from "./lambda.js";
export * from "./log/logger.js";
export * from "./log/redact.js";
export * from "./manifest.js";
export * from "./middleware/index.js";
