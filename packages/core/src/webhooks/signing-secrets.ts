import { RetryLaterError } from "../middleware/errors.js";
import { minSigningSecretBytes, signatureScheme } from "./scheme.js";

/**
 * Why a signing secret may not be used (never quoting it), or undefined when it may.
 *
 * @example
 * ```ts
 * signingSecretProblem("standard-webhooks", "whsec_c2hvcnQ="); // "gives 5 bytes of key; at least 24 are needed"
 * ```
 */
export function signingSecretProblem(scheme: string, secret: string): string | undefined {
  const bytes = signatureScheme(scheme).keyBytes(secret);
  return bytes < minSigningSecretBytes
    ? `gives ${bytes} bytes of key; at least ${minSigningSecretBytes} are needed`
    : undefined;
}

/**
 * The webhook has no usable signing secret: answered 503 with the generic body (an unauthenticated
 * caller learns nothing about the setup) and `Retry-After`, so the sender's deliveries wait for
 * the operator to put the secret in place; the reason goes to the log.
 *
 * @example
 * ```ts
 * const usable = (await loader.get()).signingSecrets.filter((s) => signingSecretProblem("stripe", s) === undefined);
 * if (usable.length === 0) throw new WebhookNotConfiguredError("payments-webhook has no signing secret");
 * ```
 */
export class WebhookNotConfiguredError extends RetryLaterError {
  override name = "WebhookNotConfiguredError";
  constructor(message: string) {
    super(message, 60);
  }
}
