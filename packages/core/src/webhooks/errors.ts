import { ClientError } from "../middleware/errors.js";

/** Which check a webhook failed; the short reason the sender sees. */
export type SignatureFailure =
  | "missing signature headers"
  | "malformed signature header"
  | "timestamp outside the tolerance window"
  | "no matching signature"
  | "no signing secret configured";

/**
 * A webhook request that failed verification: answered 401 with the short `reason`. The
 * message (for the log) says how to fix the setup; neither holds a secret or a signature.
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
