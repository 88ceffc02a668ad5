import type { SignatureScheme } from "../manifest.js";
import { RetryLaterError } from "../middleware/errors.js";
import { standardWebhookKey } from "./standard-webhooks.js";

/**
 * The fewest key bytes a signing secret may have: shorter ones are refused when provisioning and
 * when a webhook loads them (an HMAC key that short is guessable).
 *
 * @example
 * ```ts
 * if (signingKeyBytes("standard-webhooks", secret) < minSigningSecretBytes) throw new Error("too short");
 * ```
 */
export const minSigningSecretBytes = 24;

/**
 * How many bytes of HMAC key a signing secret gives its scheme: Standard Webhooks decode the
 * base64 after `whsec_`; Stripe uses the secret text itself (its endpoint secrets are `whsec_`
 * and 32 characters), counted after the `whsec_` prefix.
 *
 * @example
 * ```ts
 * signingKeyBytes("standard-webhooks", "whsec_" + Buffer.alloc(32).toString("base64")); // 32
 * signingKeyBytes("stripe", "whsec_abc"); // 3
 * ```
 */
export function signingKeyBytes(scheme: SignatureScheme, secret: string): number {
  if (scheme === "standard-webhooks") return standardWebhookKey(secret).length;
  return Buffer.byteLength(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret, "utf8");
}

/**
 * Why a signing secret may not be used (never quoting it), or undefined when it may.
 *
 * @example
 * ```ts
 * signingSecretProblem("standard-webhooks", "whsec_c2hvcnQ="); // "gives 5 bytes of key; at least 24 are needed"
 * ```
 */
export function signingSecretProblem(scheme: SignatureScheme, secret: string): string | undefined {
  const bytes = signingKeyBytes(scheme, secret);
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
 * if (usable.length === 0) throw new WebhookNotConfiguredError("payments-webhook has no signing secret");
 * ```
 */
export class WebhookNotConfiguredError extends RetryLaterError {
  override name = "WebhookNotConfiguredError";
  constructor(message: string) {
    super(message, 60);
  }
}
