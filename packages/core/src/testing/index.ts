export * from "./lambda-events.js";
export * from "./webhook-kit.js";
