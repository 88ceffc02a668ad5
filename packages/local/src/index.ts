export { type Runtime, type RuntimeInfo, type RuntimeOptions, startRuntime } from "./runtime.js";
