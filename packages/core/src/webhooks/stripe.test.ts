import { createHmac, randomBytes } from "node:crypto";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { type SignatureFailure, WebhookSignatureError } from "./errors.js";
import { signStripePayload, verifyStripeSignature } from "./stripe.js";

// The official library, used only for its webhook helpers (no API calls are made).
const stripe = new Stripe("sk_test_not_used_for_api_calls");

const newSecret = () => `whsec_${randomBytes(24).toString("base64")}`;
const secret = newSecret();
const t = 1_760_000_000;
/** A clock `offsetSeconds` after the signing time `t`. */
const at = (offsetSeconds: number) => () => (t + offsetSeconds) * 1000;
const payload = JSON.stringify({
  id: "evt_1QxYz",
  object: "event",
  type: "payment_intent.succeeded",
  created: t,
  data: { object: { id: "pi_1", object: "payment_intent", amount: 2500, currency: "eur", metadata: {} } },
});
/** The hex HMAC Stripe puts in `v1`, computed here independently of the code under test. */
const hmacHex = (body: string, key: string, timestamp = t) =>
  createHmac("sha256", key).update(`${timestamp}.${body}`).digest("hex");
const officialHeader = (options: { payload?: string; secret?: string; timestamp?: number } = {}) =>
  stripe.webhooks.generateTestHeaderString({
    payload: options.payload ?? payload,
    secret: options.secret ?? secret,
    timestamp: options.timestamp ?? t,
  });

/** Runs `fn`, which must throw a {@link WebhookSignatureError}, and returns that error. */
function signatureError(fn: () => unknown): WebhookSignatureError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WebhookSignatureError) return err;
    throw err;
  }
  throw new Error("expected a WebhookSignatureError, but verification passed");
}

describe("verifyStripeSignature", () => {
  describe("compatibility with the stripe package", () => {
    it("accepts a header made by stripe.webhooks.generateTestHeaderString", () => {
      const header = officialHeader();

      const result = verifyStripeSignature({ payload, header, secrets: [secret], now: at(0) });

      expect(result).toEqual({ timestamp: t });
    });

    it("signs test payloads in a form stripe.webhooks.constructEvent accepts", () => {
      const header = signStripePayload(payload, secret);

      const event = stripe.webhooks.constructEvent(payload, header, secret);

      expect(event.id).toBe("evt_1QxYz");
    });

    it("signs with the same t and v1 as the stripe package for the same timestamp", () => {
      const ours = signStripePayload(payload, secret, t);

      const theirs = officialHeader();

      expect(ours).toBe(theirs);
    });
  });

  describe("signature checks", () => {
    it("refuses a tampered body with 'no matching signature' and status 401", () => {
      const header = officialHeader();
      const tampered = payload.replace('"amount":2500', '"amount":1');

      const err = signatureError(() =>
        verifyStripeSignature({ payload: tampered, header, secrets: [secret], now: at(0) }),
      );

      expect(err.reason).toBe("no matching signature");
      expect(err.statusCode).toBe(401);
    });

    it("refuses a signature made with another secret", () => {
      const header = officialHeader({ secret: newSecret() });

      const err = signatureError(() => verifyStripeSignature({ payload, header, secrets: [secret], now: at(0) }));

      expect(err.reason).toBe("no matching signature");
      expect(err.statusCode).toBe(401);
    });

    it("accepts a header with several v1 values when any one of them matches", () => {
      const header = `t=${t},v1=${hmacHex(payload, newSecret())},v1=${hmacHex(payload, secret)},v1=${hmacHex(payload, newSecret())}`;

      const result = verifyStripeSignature({ payload, header, secrets: [secret], now: at(0) });

      expect(result.timestamp).toBe(t);
    });

    it("refuses a header whose several v1 values all fail to match", () => {
      const header = `t=${t},v1=${hmacHex(payload, newSecret())},v1=${hmacHex(payload, newSecret())}`;

      const err = signatureError(() => verifyStripeSignature({ payload, header, secrets: [secret], now: at(0) }));

      expect(err.reason).toBe("no matching signature");
    });

    it.each([
      { which: "the old", index: 0 },
      { which: "the new", index: 1 },
    ])("accepts a signature by $which of two active secrets, so a secret can be rolled", ({ index }) => {
      const secrets = [newSecret(), newSecret()];
      const header = officialHeader({ secret: secrets[index] });

      const result = verifyStripeSignature({ payload, header, secrets, now: at(0) });

      expect(result.timestamp).toBe(t);
    });

    it("ignores signatures of other schemes (v0) next to a valid v1", () => {
      const header = `t=${t},v0=${hmacHex(payload, newSecret())},v1=${hmacHex(payload, secret)}`;

      const result = verifyStripeSignature({ payload, header, secrets: [secret], now: at(0) });

      expect(result.timestamp).toBe(t);
    });

    it("refuses a v1 computed over a different timestamp than the header's t", () => {
      const header = `t=${t},v1=${hmacHex(payload, secret, t - 1)}`;

      const err = signatureError(() => verifyStripeSignature({ payload, header, secrets: [secret], now: at(0) }));

      expect(err.reason).toBe("no matching signature");
    });
  });

  describe("payload forms", () => {
    it("gives the same result for a Buffer payload and a string payload", () => {
      const header = officialHeader();

      const fromString = verifyStripeSignature({ payload, header, secrets: [secret], now: at(0) });
      const fromBuffer = verifyStripeSignature({
        payload: Buffer.from(payload, "utf8"),
        header,
        secrets: [secret],
        now: at(0),
      });

      expect(fromBuffer).toEqual(fromString);
    });

    it("verifies non-ASCII payloads on their UTF-8 bytes, as a Buffer and as a string", () => {
      const unicode = JSON.stringify({ id: "evt_2", object: "event", note: "crème brûlée – 100 €" });
      const header = officialHeader({ payload: unicode });

      const results = [unicode, Buffer.from(unicode, "utf8")].map((p) =>
        verifyStripeSignature({ payload: p, header, secrets: [secret], now: at(0) }),
      );

      expect(results).toEqual([{ timestamp: t }, { timestamp: t }]);
    });

    it("refuses a Buffer payload that differs from the signed one by one byte", () => {
      const header = officialHeader();
      const bytes = Buffer.from(payload, "utf8");
      const last = bytes.length - 2;
      bytes.writeUInt8(bytes.readUInt8(last) ^ 1, last);

      const err = signatureError(() =>
        verifyStripeSignature({ payload: bytes, header, secrets: [secret], now: at(0) }),
      );

      expect(err.reason).toBe("no matching signature");
    });
  });

  describe("tolerance window (injectable clock)", () => {
    it.each([
      { when: "300 s after signing", offset: 300 },
      { when: "300.999 s after signing", offset: 300.999 },
      { when: "300 s before signing (sender clock ahead)", offset: -300 },
    ])("accepts a timestamp just inside the 300 s window: $when", ({ offset }) => {
      const header = officialHeader();

      const result = verifyStripeSignature({ payload, header, secrets: [secret], now: at(offset) });

      expect(result.timestamp).toBe(t);
    });

    it.each([
      { when: "301 s after signing (a replay)", offset: 301 },
      { when: "301 s before signing (sender clock ahead)", offset: -301 },
    ])("refuses a timestamp just outside the 300 s window: $when", ({ offset }) => {
      const header = officialHeader();

      const err = signatureError(() => verifyStripeSignature({ payload, header, secrets: [secret], now: at(offset) }));

      expect(err.reason).toBe("timestamp outside the tolerance window");
      expect(err.statusCode).toBe(401);
    });

    it("uses toleranceSeconds when given", () => {
      const header = officialHeader();

      const inside = verifyStripeSignature({ payload, header, secrets: [secret], toleranceSeconds: 10, now: at(10) });
      const err = signatureError(() =>
        verifyStripeSignature({ payload, header, secrets: [secret], toleranceSeconds: 10, now: at(11) }),
      );

      expect(inside.timestamp).toBe(t);
      expect(err.reason).toBe("timestamp outside the tolerance window");
    });

    it("checks the window before the signature, so a stale replay with a valid signature is refused", () => {
      const header = officialHeader({ timestamp: t - 3600 });

      const err = signatureError(() => verifyStripeSignature({ payload, header, secrets: [secret], now: at(0) }));

      expect(err.reason).toBe("timestamp outside the tolerance window");
    });
  });

  describe("missing and malformed headers", () => {
    const valid = hmacHex(payload, secret);
    it.each<{ case: string; header: string | undefined; reason: SignatureFailure }>([
      { case: "no header", header: undefined, reason: "missing signature headers" },
      { case: "an empty header", header: "", reason: "missing signature headers" },
      { case: "no t", header: `v1=${valid}`, reason: "malformed signature header" },
      { case: "no v1", header: `t=${t}`, reason: "malformed signature header" },
      { case: "a non-numeric t", header: `t=yesterday,v1=${valid}`, reason: "malformed signature header" },
      { case: "a v1 that is not hex", header: `t=${t},v1=${"z".repeat(64)}`, reason: "malformed signature header" },
      { case: "a truncated v1", header: `t=${t},v1=${valid.slice(0, 63)}`, reason: "malformed signature header" },
      { case: "only a v0 signature", header: `t=${t},v0=${valid}`, reason: "malformed signature header" },
      { case: "no key=value pairs", header: "garbage", reason: "malformed signature header" },
    ])("refuses $case with '$reason' and status 401", ({ header, reason }) => {
      const err = signatureError(() => verifyStripeSignature({ payload, header, secrets: [secret], now: at(0) }));

      expect(err.reason).toBe(reason);
      expect(err.statusCode).toBe(401);
    });

    it("refuses any delivery when no secret is configured, as a 401 naming the setup problem", () => {
      const header = officialHeader();

      const err = signatureError(() => verifyStripeSignature({ payload, header, secrets: [], now: at(0) }));

      expect(err.reason).toBe("no signing secret configured");
      expect(err.statusCode).toBe(401);
    });
  });

  describe("what errors reveal", () => {
    it.each([
      { case: "a wrong signature", header: () => officialHeader({ secret: newSecret() }), offset: 0 },
      { case: "a stale timestamp", header: () => officialHeader(), offset: 1000 },
      { case: "a malformed header", header: () => `t=x,v1=${hmacHex(payload, secret)}`, offset: 0 },
    ])("never puts the secret or the signature in the error for $case", ({ header: makeHeader, offset }) => {
      const header = makeHeader();
      const signatures = [...header.matchAll(/v1=([0-9a-f]+)/g)].map((m) => m[1] as string);
      const err = signatureError(() => verifyStripeSignature({ payload, header, secrets: [secret], now: at(offset) }));

      const revealed = [err.message, err.hint, String(err), err.stack ?? "", JSON.stringify(err)].join("\n");

      expect(signatures.length).toBeGreaterThan(0);
      expect(revealed).not.toContain(secret);
      expect(revealed).not.toContain(secret.slice("whsec_".length));
      for (const signature of signatures) expect(revealed).not.toContain(signature);
    });
  });
});
