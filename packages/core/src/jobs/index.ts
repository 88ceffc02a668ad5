export * from "./handler.js";
export * from "./outcome.js";
export * from "./run-store.js";
export * from "./runner.js";
