export { ensureStateTable, type LocalDynamoDB, startLocalDynamoDB } from "./dynamodb.js";
export { type HttpRequestInput, httpApiEvent, lambdaContext, scheduledEvent } from "./lambda-events.js";
export {
  type LocalSecretsManager,
  type LocalSecretsManagerOptions,
  startLocalSecretsManager,
} from "./secrets-manager.js";
