export * from "./lambda-events.js";
export * from "./metrics-capture.js";
export * from "./webhook-kit.js";
