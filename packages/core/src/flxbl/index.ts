export * from "./client.js";
export * from "./errors.js";
export * from "./scopes.js";
export * from "./types.js";
