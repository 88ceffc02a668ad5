/** `@flxbl-lambda/core/state`: the per-record lock on the state table and its errors. */
export * from "./errors.js";
export * from "./function-lock.js";
export * from "./lock.js";
