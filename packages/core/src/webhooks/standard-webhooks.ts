import { createHmac, randomBytes } from "node:crypto";
import { WebhookSignatureError } from "./errors.js";
import { registerSignatureScheme, type SignatureScheme, safeEqual } from "./scheme.js";
import { assertWithinTolerance, payloadBytes } from "./window.js";

/**
 * Options of {@link verifyStandardWebhook}.
 *
 * @example
 * ```ts
 * const { signingSecrets } = await loader.get();
 * const options: StandardWebhookVerifyOptions = { payload: rawBody, headers: event.headers, secrets: signingSecrets, toleranceSeconds: 60 };
 * const { id } = verifyStandardWebhook(options);
 * ```
 */
export interface StandardWebhookVerifyOptions {
  /** The raw request body, exactly as received. */
  payload: string | Buffer;
  /** `webhook-id`, `webhook-timestamp`, `webhook-signature` (lower-cased names, as API Gateway v2 gives them). */
  headers: Readonly<Record<string, string | undefined>>;
  /** Every active secret: `whsec_<base64>` (or bare base64); any may match. */
  secrets: readonly string[];
  /** Largest allowed distance between the timestamp and now. @default 300 */
  toleranceSeconds?: number;
  /** Clock in epoch ms. @default Date.now */
  now?: () => number;
}

/**
 * The HMAC key of a Standard Webhooks secret: the base64 after `whsec_`.
 *
 * @example
 * ```ts
 * standardWebhookKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").length; // 24 (bytes)
 * ```
 */
export function standardWebhookKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret, "base64");
}

/**
 * Verifies a Standard Webhooks signature: HMAC-SHA256 of `${id}.${timestamp}.${payload}` with
 * the base64-decoded secret, compared in constant time with every `v1,<base64>` in
 * `webhook-signature`, and the timestamp within the tolerance. Returns the message id.
 *
 * @example
 * ```ts
 * const { id } = verifyStandardWebhook({ payload: rawBody, headers: event.headers, secrets: ["whsec_..."] });
 * ```
 */
export function verifyStandardWebhook(options: StandardWebhookVerifyOptions): { id: string; timestamp: number } {
  const id = options.headers["webhook-id"];
  const stamp = options.headers["webhook-timestamp"];
  const signatureHeader = options.headers["webhook-signature"];
  if (!id || !stamp || !signatureHeader) {
    throw new WebhookSignatureError(
      "missing signature headers",
      "Standard Webhooks senders send webhook-id, webhook-timestamp and webhook-signature",
    );
  }
  if (options.secrets.length === 0) {
    throw new WebhookSignatureError(
      "no signing secret configured",
      "Put the sender's whsec_ secret in the function's signingSecrets",
    );
  }
  if (!/^\d+$/.test(stamp))
    throw new WebhookSignatureError("malformed signature header", "webhook-timestamp must be unix seconds");
  const timestamp = Number(stamp);
  const signatures = signatureHeader
    .split(" ")
    .map((part) => part.split(","))
    .filter(([version, value]) => version === "v1" && value !== undefined && value !== "")
    .map(([, value]) => Buffer.from(value as string, "base64"));
  if (signatures.length === 0) {
    throw new WebhookSignatureError("malformed signature header", "webhook-signature needs at least one v1,<base64>");
  }
  assertWithinTolerance(timestamp, options);
  const body = payloadBytes(options.payload);
  const prefix = Buffer.from(`${id}.${timestamp}.`, "utf8");
  for (const secret of options.secrets) {
    const key = standardWebhookKey(secret);
    // A secret like "whsec_" or invalid base64 decodes to no bytes: an empty HMAC key anyone can sign with.
    if (key.length === 0) continue;
    const expected = createHmac("sha256", key).update(prefix).update(body).digest();
    if (signatures.some((sig) => safeEqual(sig, expected))) return { id, timestamp };
  }
  throw new WebhookSignatureError(
    "no matching signature",
    "No v1 signature matches any configured secret; check the sender's secret, and that the body reached us unmodified",
  );
}

/**
 * Signs a payload as a Standard Webhooks sender does, for tests and local senders.
 *
 * @example
 * ```ts
 * const body = JSON.stringify({ type: "inventory.updated", data: { sku: "TEE-BLK-M", quantity: 42, version: 17 } });
 * const headers = signStandardWebhook("msg_1", body, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
 * ```
 */
export function signStandardWebhook(
  id: string,
  payload: string,
  secret: string,
  timestampSeconds = Math.floor(Date.now() / 1000),
): { "webhook-id": string; "webhook-timestamp": string; "webhook-signature": string } {
  const signature = createHmac("sha256", standardWebhookKey(secret))
    .update(`${id}.${timestampSeconds}.${payload}`, "utf8")
    .digest("base64");
  return { "webhook-id": id, "webhook-timestamp": String(timestampSeconds), "webhook-signature": `v1,${signature}` };
}

/**
 * Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the base64 key after
 * `whsec_`; the id and timestamp are signed; the type is the body's `type`.
 *
 * @example
 * ```ts
 * const timestampSeconds = Math.floor(Date.now() / 1000);
 * const headers = standardWebhooksScheme.sign(body, "whsec_...", { id: "msg_1", type: "inventory.updated", timestampSeconds });
 * ```
 */
export const standardWebhooksScheme: SignatureScheme = registerSignatureScheme({
  name: "standard-webhooks",
  signsTimestamp: true,
  signsEventId: true,
  verify: (delivery, options) => {
    verifyStandardWebhook({ ...options, payload: delivery.body, headers: delivery.headers });
    return true;
  },
  // Exactly the id the signature covers (untrimmed), so the idempotency key is the signed value.
  eventId: (delivery) => delivery.headers["webhook-id"] || undefined,
  eventType: (_delivery, payload) => (typeof payload.type === "string" ? payload.type : undefined),
  keyBytes: (secret) => standardWebhookKey(secret).length,
  newSecret: () => `whsec_${randomBytes(32).toString("base64")}`,
  sign: (body, secret, { id, timestampSeconds }) => signStandardWebhook(id, body, secret, timestampSeconds),
  sampleBody: (type, _id, data) => ({ type, timestamp: new Date().toISOString(), data }),
});
