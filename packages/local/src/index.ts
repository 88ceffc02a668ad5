export { type LocalSecretsManager, type LocalSecretsManagerOptions, startLocalSecretsManager } from "./secrets-manager.js";
