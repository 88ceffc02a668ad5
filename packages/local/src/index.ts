export { type HttpRequestInput, httpApiEvent, lambdaContext, scheduledEvent } from "@flxbl-lambda/core";
export { ensureStateTable, type LocalDynamoDB, startLocalDynamoDB } from "./dynamodb.js";
export { type FaultMode, type FaultProxy, startFaultProxy } from "./fault-proxy.js";
export {
  newSigningSecret,
  type ProvisionOptions,
  type ProvisionResult,
  provisionKeys,
  readSecret,
} from "./provision.js";
export { type Runtime, type RuntimeInfo, type RuntimeOptions, startRuntime } from "./runtime.js";
export {
  type LocalSecretsManager,
  type LocalSecretsManagerOptions,
  type RotationInvoker,
  startLocalSecretsManager,
} from "./secrets-manager.js";
