export { ensureStateTable, type LocalDynamoDB, startLocalDynamoDB } from "./dynamodb.js";
export { type HttpRequestInput, httpApiEvent, lambdaContext, scheduledEvent } from "./lambda-events.js";
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
  startLocalSecretsManager,
} from "./secrets-manager.js";
