import { randomBytes } from "node:crypto";
import { WebhookSignatureError } from "./errors.js";
import { headerValue, hmacSha256, registerSignatureScheme, type SignatureScheme, safeEqual } from "./scheme.js";

/**
 * Shopify's webhooks: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>` with the app's
 * client secret as the key; the delivery id is `X-Shopify-Webhook-Id` and the event type
 * `X-Shopify-Topic` (`orders/create`). Shopify signs no timestamp and not the id: a repeated id
 * gets the stored answer, but a captured delivery could be replayed under a new id, so handlers
 * must be idempotent by content.
 *
 * @example
 * ```ts
 * import { randomUUID } from "node:crypto";
 *
 * const headers = shopifyScheme.sign(body, secret, { id: randomUUID(), type: "orders/create", timestampSeconds: 0 });
 * // { "x-shopify-hmac-sha256": "…", "x-shopify-webhook-id": "…", "x-shopify-topic": "orders/create" }
 * ```
 */
export const shopifyScheme: SignatureScheme = registerSignatureScheme({
  name: "shopify",
  signsTimestamp: false,
  signsEventId: false,
  verify: (delivery, { secrets }) => {
    const given = headerValue(delivery, "x-shopify-hmac-sha256");
    if (!given)
      throw new WebhookSignatureError(
        "missing signature headers",
        "Shopify sends X-Shopify-Hmac-Sha256 with every webhook",
      );
    if (!/^[A-Za-z0-9+/]{43}=$/.test(given))
      throw new WebhookSignatureError(
        "malformed signature header",
        "X-Shopify-Hmac-Sha256 must be a base64 SHA-256 HMAC",
      );
    const signature = Buffer.from(given, "base64");
    return secrets.some((secret) => safeEqual(signature, hmacSha256(secret, delivery.body)));
  },
  eventId: (delivery) => headerValue(delivery, "x-shopify-webhook-id"),
  eventType: (delivery) => headerValue(delivery, "x-shopify-topic"),
  keyBytes: (secret) => Buffer.byteLength(secret, "utf8"),
  newSecret: () => randomBytes(32).toString("hex"),
  sign: (body, secret, { id, type }) => ({
    "x-shopify-hmac-sha256": hmacSha256(secret, body).toString("base64"),
    "x-shopify-webhook-id": id,
    "x-shopify-topic": type,
  }),
  sampleBody: (_type, _id, data) => data,
});
