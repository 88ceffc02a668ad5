import { randomBytes } from "node:crypto";
import { WebhookSignatureError } from "./errors.js";
import { headerValue, hmacSha256, registerSignatureScheme, type SignatureScheme, safeEqual } from "./scheme.js";

const signaturePattern = /^sha256=([0-9a-f]{64})$/i;

/**
 * GitHub's webhooks: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` with the
 * webhook's secret as the key; the delivery id is `X-GitHub-Delivery` and the event type
 * `X-GitHub-Event`. GitHub signs no timestamp and not the delivery id: a repeated id gets the
 * stored answer, but a captured delivery could be replayed under a new id, so handlers must be
 * idempotent by content.
 *
 * @example
 * ```ts
 * import { randomUUID } from "node:crypto";
 *
 * const headers = githubScheme.sign(body, secret, { id: randomUUID(), type: "push", timestampSeconds: 0 });
 * // { "x-hub-signature-256": "sha256=…", "x-github-delivery": "…", "x-github-event": "push" }
 * ```
 */
export const githubScheme: SignatureScheme = registerSignatureScheme({
  name: "github",
  signsTimestamp: false,
  signsEventId: false,
  verify: (delivery, { secrets }) => {
    const given = headerValue(delivery, "x-hub-signature-256");
    if (!given)
      throw new WebhookSignatureError(
        "missing signature headers",
        "GitHub sends X-Hub-Signature-256 only when the webhook has a secret; set one in the repository's webhook settings",
      );
    const hex = signaturePattern.exec(given)?.[1];
    if (!hex) throw new WebhookSignatureError("malformed signature header", "X-Hub-Signature-256 must be sha256=<hex>");
    const signature = Buffer.from(hex, "hex");
    return secrets.some((secret) => safeEqual(signature, hmacSha256(secret, delivery.body)));
  },
  eventId: (delivery) => headerValue(delivery, "x-github-delivery"),
  eventType: (delivery) => headerValue(delivery, "x-github-event"),
  keyBytes: (secret) => Buffer.byteLength(secret, "utf8"),
  newSecret: () => randomBytes(32).toString("hex"),
  sign: (body, secret, { id, type }) => ({
    "x-hub-signature-256": `sha256=${hmacSha256(secret, body).toString("hex")}`,
    "x-github-delivery": id,
    "x-github-event": type,
  }),
  sampleBody: (_type, _id, data) => data,
});
