import { createHmac, randomBytes } from "node:crypto";
import { WebhookSignatureError } from "./errors.js";
import { headerValue, registerSignatureScheme, type SignatureScheme, safeEqual } from "./scheme.js";
import { assertWithinTolerance, payloadBytes } from "./window.js";

/**
 * Options of {@link verifyStripeSignature}.
 *
 * @example
 * ```ts
 * const options: StripeVerifyOptions = { payload: rawBody, header: event.headers["stripe-signature"], secrets: ["whsec_new...", "whsec_old..."] };
 * const { timestamp } = verifyStripeSignature(options);
 * ```
 */
export interface StripeVerifyOptions {
  /** The raw request body, exactly as received. */
  payload: string | Buffer;
  /** The `Stripe-Signature` header: `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`. */
  header: string | undefined;
  /** Every active endpoint secret (`whsec_...`); any may match, so a secret can be rolled. */
  secrets: readonly string[];
  /** Largest allowed distance between the timestamp and now. @default 300 */
  toleranceSeconds?: number;
  /** Clock in epoch ms. @default Date.now */
  now?: () => number;
}

const hexSignature = /^[0-9a-f]{64}$/;

/**
 * Verifies a Stripe webhook signature over the raw bytes: HMAC-SHA256 of `${t}.${payload}` with
 * the endpoint secret, compared in constant time with every `v1` value, and `t` within the
 * tolerance. Throws {@link WebhookSignatureError} naming the failed check; returns the timestamp.
 *
 * @example
 * ```ts
 * verifyStripeSignature({ payload: rawBody, header: event.headers["stripe-signature"], secrets: ["whsec_..."] });
 * ```
 */
export function verifyStripeSignature(options: StripeVerifyOptions): { timestamp: number } {
  const { header, secrets } = options;
  if (!header) {
    throw new WebhookSignatureError(
      "missing signature headers",
      "Stripe sends a Stripe-Signature header; is this endpoint's sender Stripe?",
    );
  }
  if (secrets.length === 0) {
    throw new WebhookSignatureError(
      "no signing secret configured",
      "Put the endpoint's whsec_ secret in the function's signingSecrets",
    );
  }
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t" && /^\d+$/.test(value)) timestamp = Number(value);
    else if (key === "v1" && hexSignature.test(value)) signatures.push(Buffer.from(value, "hex"));
  }
  if (timestamp === undefined || signatures.length === 0) {
    throw new WebhookSignatureError(
      "malformed signature header",
      "Stripe-Signature needs t=<seconds> and at least one v1=<hex>",
    );
  }
  assertWithinTolerance(timestamp, options);
  const body = payloadBytes(options.payload);
  const signedPrefix = Buffer.from(`${timestamp}.`, "utf8");
  for (const secret of secrets) {
    const expected = createHmac("sha256", secret).update(signedPrefix).update(body).digest();
    if (signatures.some((sig) => safeEqual(sig, expected))) return { timestamp };
  }
  throw new WebhookSignatureError(
    "no matching signature",
    "No v1 signature matches any configured secret; check the endpoint secret, and that the body reached us unmodified",
  );
}

/**
 * Signs a payload as Stripe does, for tests and local senders: the `Stripe-Signature` value.
 *
 * @example
 * ```ts
 * const event = { id: "evt_1", type: "payment_intent.succeeded", data: { object: {} } };
 * const header = signStripePayload(JSON.stringify(event), "whsec_test_secret");
 * ```
 */
export function signStripePayload(payload: string, secret: string, timestampSeconds = Math.floor(Date.now() / 1000)) {
  const signature = createHmac("sha256", secret).update(`${timestampSeconds}.${payload}`, "utf8").digest("hex");
  return `t=${timestampSeconds},v1=${signature}`;
}

/** Stripe's endpoint secrets are used as the HMAC key as they are, text after `whsec_` and all. */
const stripeKeyBytes = (secret: string) =>
  Buffer.byteLength(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret, "utf8");

/**
 * Stripe's webhooks: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, the
 * timestamp within the tolerance; the event id (`evt_...`) and type are in the signed body.
 *
 * @example
 * ```ts
 * const timestampSeconds = Math.floor(Date.now() / 1000);
 * const headers = stripeScheme.sign(body, "whsec_...", { id: "evt_1", type: "payment_intent.succeeded", timestampSeconds });
 * ```
 */
export const stripeScheme: SignatureScheme = registerSignatureScheme({
  name: "stripe",
  signsTimestamp: true,
  signsEventId: true,
  verify: (delivery, options) => {
    verifyStripeSignature({ ...options, payload: delivery.body, header: headerValue(delivery, "stripe-signature") });
    return true;
  },
  eventId: (_delivery, payload) => (typeof payload.id === "string" ? payload.id : undefined),
  eventType: (_delivery, payload) => (typeof payload.type === "string" ? payload.type : undefined),
  // Stripe's delivery bookkeeping (`pending_webhooks`, `request`) may differ between attempts.
  comparable: (payload) => [payload.type, payload.created, payload.livemode, payload.data],
  keyBytes: stripeKeyBytes,
  newSecret: () => `whsec_${randomBytes(32).toString("base64")}`,
  sign: (body, secret, { timestampSeconds }) => ({
    "stripe-signature": signStripePayload(body, secret, timestampSeconds),
  }),
  sampleBody: (type, id, data) => ({
    id,
    object: "event",
    type,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    data: { object: data },
  }),
});
