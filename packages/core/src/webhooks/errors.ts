import { ClientError } from "../middleware/errors.js";

/**
 * Which check a webhook failed; the short reason the sender sees.
 *
 * @example
 * ```ts
 * // Worth re-reading the signing secrets: the sender may have rolled its secret.
 * const mayBeStale = (reason: SignatureFailure) => reason === "no matching signature";
 * ```
 */
export type SignatureFailure =
  | "missing signature headers"
  | "malformed signature header"
  | "timestamp outside the tolerance window"
  | "no matching signature"
  | "no signing secret configured";

/**
 * A webhook request that failed verification: answered 401 with the short `reason`. The
 * `hint` (for the log) says how to fix the setup; neither holds a secret or a signature.
 *
 * @example
 * ```ts
 * try {
 *   verifyStripeSignature({ payload: rawBody, header: event.headers["stripe-signature"], secrets: (await loader.get()).signingSecrets });
 * } catch (err) {
 *   if (err instanceof WebhookSignatureError) logger.warn("signature check failed", { check: err.reason, hint: err.hint });
 *   throw err; // httpErrors answers 401 {"message": err.reason}
 * }
 * ```
 */
export class WebhookSignatureError extends ClientError {
  override name = "WebhookSignatureError";
  constructor(
    readonly reason: SignatureFailure,
    readonly hint: string,
  ) {
    super(401, reason);
  }
}
