export {
  isScheduledForDeletion,
  newSigningSecret,
  type ProvisionedSecret,
  type ProvisionOptions,
  type ProvisionResult,
  provisionKeys,
  readSecret,
  type ScheduledSecret,
  SecretScheduledForDeletionError,
  SigningSecretRefusedError,
} from "./provision.js";
