export {
  newSigningSecret,
  type ProvisionedSecret,
  type ProvisionOptions,
  type ProvisionResult,
  provisionKeys,
  readSecret,
  SigningSecretRefusedError,
} from "./provision.js";
