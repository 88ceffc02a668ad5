/**
 * `@flxbl-lambda/core`: everything, for tools and tests. A function imports the subpaths it uses
 * (`/lambda`, `/webhooks`, `/jobs`, `/state`, `/keys`), so its bundle carries nothing else.
 */
export * from "./base.js";
export * from "./jobs/index.js";
export * from "./keys/index.js";
export * from "./state/index.js";
export * from "./testing/index.js";
export * from "./webhooks-entry.js";
