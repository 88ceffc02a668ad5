import { createHmac, randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { type SignatureFailure, WebhookSignatureError } from "./errors.js";
import { signStandardWebhook, standardWebhookKey, verifyStandardWebhook } from "./standard-webhooks.js";

const newSecret = () => `whsec_${randomBytes(24).toString("base64")}`;
const secret = newSecret();
const bare = secret.slice("whsec_".length);
const msgId = "msg_2f7hJ1c9Qk";
const t = 1_760_000_000;
/** A clock `offsetSeconds` after the signing time `t`. */
const at = (offsetSeconds: number) => () => (t + offsetSeconds) * 1000;
const payload = JSON.stringify({
  type: "inventory.updated",
  timestamp: new Date(t * 1000).toISOString(),
  data: { sku: "SKU-1", quantity: 7, version: 3 },
});

type Headers = { "webhook-id": string; "webhook-timestamp": string; "webhook-signature": string };
/** Headers as a Standard Webhooks sender makes them, signed by the official package. */
const officialHeaders = (
  options: { id?: string; payload?: string; secret?: string; timestamp?: number } = {},
): Headers => {
  const id = options.id ?? msgId;
  const timestamp = options.timestamp ?? t;
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": new Webhook(options.secret ?? secret).sign(
      id,
      new Date(timestamp * 1000),
      options.payload ?? payload,
    ),
  };
};
/** A `v1,<base64>` signature computed here, independently of the code under test. */
const v1 = (key: string, body = payload, id = msgId, timestamp = t) =>
  `v1,${createHmac("sha256", Buffer.from(key.replace(/^whsec_/, ""), "base64"))
    .update(`${id}.${timestamp}.${body}`)
    .digest("base64")}`;

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

describe("verifyStandardWebhook", () => {
  describe("compatibility with the standardwebhooks package", () => {
    it("accepts headers signed by new Webhook(secret).sign and returns the message id and timestamp", () => {
      const headers = officialHeaders();

      const result = verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(0) });

      expect(result).toEqual({ id: msgId, timestamp: t });
    });

    it("signs test payloads in a form Webhook.verify accepts", () => {
      const headers = signStandardWebhook(msgId, payload, secret);

      const verified = new Webhook(secret).verify(payload, headers);

      expect(verified).toEqual(JSON.parse(payload));
    });

    it("signs exactly as the standardwebhooks package does for the same id and timestamp", () => {
      const ours = signStandardWebhook(msgId, payload, secret, t);

      expect(ours).toEqual(officialHeaders());
    });
  });

  describe("whsec_ secrets", () => {
    it("decodes the base64 after whsec_ into the HMAC key", () => {
      const key = randomBytes(32);

      const decoded = [
        standardWebhookKey(`whsec_${key.toString("base64")}`),
        standardWebhookKey(key.toString("base64")),
      ];

      expect(decoded).toEqual([key, key]);
    });

    it("accepts a signature by a whsec_-prefixed secret when configured with the bare base64", () => {
      const headers = officialHeaders({ secret });

      const result = verifyStandardWebhook({ payload, headers, secrets: [bare], now: at(0) });

      expect(result.id).toBe(msgId);
    });

    it("accepts a signature by the bare base64 secret when configured with the whsec_ prefix", () => {
      const headers = officialHeaders({ secret: bare });

      const result = verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(0) });

      expect(result.id).toBe(msgId);
    });

    it("signs with a bare base64 secret in a form Webhook.verify with the prefixed secret accepts", () => {
      const headers = signStandardWebhook(msgId, payload, bare);

      const verified = new Webhook(secret).verify(payload, headers);

      expect(verified).toEqual(JSON.parse(payload));
    });

    it("does not use the secret's text as the key (Stripe's way): an HMAC over the whsec_ string is refused", () => {
      const raw = createHmac("sha256", secret).update(`${msgId}.${t}.${payload}`).digest("base64");
      const headers = { ...officialHeaders(), "webhook-signature": `v1,${raw}` };

      const err = signatureError(() => verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(0) }));

      expect(err.reason).toBe("no matching signature");
    });

    it.each(["whsec_", "whsec_!!!!"])(
      "never verifies with an empty HMAC key: a forged signature is refused when a secret (%s) decodes to no bytes",
      (emptyKeySecret) => {
        const forged = createHmac("sha256", Buffer.alloc(0)).update(`${msgId}.${t}.${payload}`).digest("base64");
        const headers = { ...officialHeaders(), "webhook-signature": `v1,${forged}` };

        const err = signatureError(() =>
          verifyStandardWebhook({ payload, headers, secrets: [emptyKeySecret, secret], now: at(0) }),
        );

        expect(err.reason).toBe("no matching signature");
      },
    );
  });

  describe("signature checks", () => {
    it("refuses a tampered body with 'no matching signature' and status 401", () => {
      const headers = officialHeaders();
      const tampered = payload.replace('"quantity":7', '"quantity":700');

      const err = signatureError(() =>
        verifyStandardWebhook({ payload: tampered, headers, secrets: [secret], now: at(0) }),
      );

      expect(err.reason).toBe("no matching signature");
      expect(err.statusCode).toBe(401);
    });

    it("refuses a signature made with another secret", () => {
      const headers = officialHeaders({ secret: newSecret() });

      const err = signatureError(() => verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(0) }));

      expect(err.reason).toBe("no matching signature");
      expect(err.statusCode).toBe(401);
    });

    it("refuses a valid signature replayed under another webhook-id", () => {
      const headers = { ...officialHeaders(), "webhook-id": "msg_other" };

      const err = signatureError(() => verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(0) }));

      expect(err.reason).toBe("no matching signature");
    });

    it("accepts a webhook-signature with several space-separated v1 values when any one matches", () => {
      const headers = {
        ...officialHeaders(),
        "webhook-signature": `${v1(newSecret())} ${v1(secret)} ${v1(newSecret())}`,
      };

      const result = verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(0) });

      expect(result.id).toBe(msgId);
    });

    it("refuses a webhook-signature whose several v1 values all fail to match", () => {
      const headers = { ...officialHeaders(), "webhook-signature": `${v1(newSecret())} ${v1(newSecret())}` };

      const err = signatureError(() => verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(0) }));

      expect(err.reason).toBe("no matching signature");
    });

    it("ignores signatures of other versions next to a valid v1", () => {
      const headers = { ...officialHeaders(), "webhook-signature": `v1a,${bare} ${v1(secret)}` };

      const result = verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(0) });

      expect(result.id).toBe(msgId);
    });

    it.each([
      { which: "the old", index: 0 },
      { which: "the new", index: 1 },
    ])("accepts a signature by $which of two active secrets, so a secret can be rolled", ({ index }) => {
      const secrets = [newSecret(), newSecret()];
      const headers = officialHeaders({ secret: secrets[index] });

      const result = verifyStandardWebhook({ payload, headers, secrets, now: at(0) });

      expect(result.id).toBe(msgId);
    });
  });

  describe("payload forms", () => {
    it("gives the same result for a Buffer payload and a string payload", () => {
      const headers = officialHeaders();

      const fromString = verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(0) });
      const fromBuffer = verifyStandardWebhook({
        payload: Buffer.from(payload, "utf8"),
        headers,
        secrets: [secret],
        now: at(0),
      });

      expect(fromBuffer).toEqual(fromString);
    });

    it("verifies non-ASCII payloads on their UTF-8 bytes, as a Buffer and as a string", () => {
      const unicode = JSON.stringify({ type: "inventory.updated", note: "Größe – 42 €" });
      const headers = officialHeaders({ payload: unicode });

      const results = [unicode, Buffer.from(unicode, "utf8")].map((p) =>
        verifyStandardWebhook({ payload: p, headers, secrets: [secret], now: at(0) }),
      );

      expect(results).toEqual([
        { id: msgId, timestamp: t },
        { id: msgId, timestamp: t },
      ]);
    });
  });

  describe("tolerance window (injectable clock)", () => {
    it.each([
      { when: "300 s after signing", offset: 300 },
      { when: "300.999 s after signing", offset: 300.999 },
      { when: "300 s before signing (sender clock ahead)", offset: -300 },
    ])("accepts a timestamp just inside the 300 s window: $when", ({ offset }) => {
      const headers = officialHeaders();

      const result = verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(offset) });

      expect(result.timestamp).toBe(t);
    });

    it.each([
      { when: "301 s after signing (a replay)", offset: 301 },
      { when: "301 s before signing (sender clock ahead)", offset: -301 },
    ])("refuses a timestamp just outside the 300 s window: $when", ({ offset }) => {
      const headers = officialHeaders();

      const err = signatureError(() => verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(offset) }));

      expect(err.reason).toBe("timestamp outside the tolerance window");
      expect(err.statusCode).toBe(401);
    });

    it("uses toleranceSeconds when given", () => {
      const headers = officialHeaders();

      const inside = verifyStandardWebhook({ payload, headers, secrets: [secret], toleranceSeconds: 10, now: at(-10) });
      const err = signatureError(() =>
        verifyStandardWebhook({ payload, headers, secrets: [secret], toleranceSeconds: 10, now: at(-11) }),
      );

      expect(inside.id).toBe(msgId);
      expect(err.reason).toBe("timestamp outside the tolerance window");
    });
  });

  describe("missing and malformed headers", () => {
    it.each(["webhook-id", "webhook-timestamp", "webhook-signature"] as const)(
      "refuses a delivery without %s with 'missing signature headers' and status 401",
      (name) => {
        const headers: Partial<Headers> = officialHeaders();
        delete headers[name];

        const err = signatureError(() => verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(0) }));

        expect(err.reason).toBe("missing signature headers");
        expect(err.statusCode).toBe(401);
      },
    );

    it.each<{ case: string; change: Partial<Headers>; reason: SignatureFailure }>([
      { case: "an empty webhook-id", change: { "webhook-id": "" }, reason: "missing signature headers" },
      {
        case: "a non-numeric timestamp",
        change: { "webhook-timestamp": "soon" },
        reason: "malformed signature header",
      },
      {
        case: "a timestamp with a fraction",
        change: { "webhook-timestamp": `${t}.5` },
        reason: "malformed signature header",
      },
      {
        case: "a signature without a version",
        change: { "webhook-signature": bare },
        reason: "malformed signature header",
      },
      { case: "an empty v1 value", change: { "webhook-signature": "v1," }, reason: "malformed signature header" },
      {
        case: "only signatures of other versions",
        change: { "webhook-signature": `v2,${bare} v1a,${bare}` },
        reason: "malformed signature header",
      },
    ])("refuses $case with '$reason' and status 401", ({ change, reason }) => {
      const headers = { ...officialHeaders(), ...change };

      const err = signatureError(() => verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(0) }));

      expect(err.reason).toBe(reason);
      expect(err.statusCode).toBe(401);
    });

    it("refuses any delivery when no secret is configured, as a 401 naming the setup problem", () => {
      const headers = officialHeaders();

      const err = signatureError(() => verifyStandardWebhook({ payload, headers, secrets: [], now: at(0) }));

      expect(err.reason).toBe("no signing secret configured");
      expect(err.statusCode).toBe(401);
    });
  });

  describe("what errors reveal", () => {
    it.each([
      { case: "a wrong signature", headers: () => officialHeaders({ secret: newSecret() }), offset: 0 },
      { case: "a stale timestamp", headers: () => officialHeaders(), offset: 1000 },
      {
        case: "a malformed timestamp",
        headers: () => ({ ...officialHeaders(), "webhook-timestamp": "x" }),
        offset: 0,
      },
    ])("never puts the secret or the signature in the error for $case", ({ headers: makeHeaders, offset }) => {
      const headers = makeHeaders();
      const signature = headers["webhook-signature"].slice("v1,".length);
      const err = signatureError(() => verifyStandardWebhook({ payload, headers, secrets: [secret], now: at(offset) }));

      const revealed = [err.message, err.hint, String(err), err.stack ?? "", JSON.stringify(err)].join("\n");

      expect(revealed).not.toContain(bare);
      expect(revealed).not.toContain(signature);
    });
  });
});
