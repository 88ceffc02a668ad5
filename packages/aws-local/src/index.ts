export { ensureStateTable, type LocalDynamoDB, startLocalDynamoDB } from "./dynamodb.js";
export { type FaultMode, type FaultProxy, startFaultProxy } from "./fault-proxy.js";
export { isOwnLoopbackHost, writePrivateFile } from "./private-io.js";
export {
  type LocalSecretsManager,
  type LocalSecretsManagerOptions,
  maxSecretVersions,
  type RotationInvoker,
  startLocalSecretsManager,
} from "./secrets-manager.js";
