import { createHmac, randomUUID } from "node:crypto";
import { verify as verifyGitHub } from "@octokit/webhooks-methods";
import { describe, expect, it } from "vitest";
import { defineManifest, type WebhookSpec } from "../manifest.js";
import { WebhookSignatureError } from "./errors.js";
import {
  hmacSha256,
  registerSignatureScheme,
  type SignatureScheme,
  signatureScheme,
  signatureSchemeNames,
  UnknownSignatureSchemeError,
  type WebhookDelivery,
} from "./scheme.js";
import { minSigningSecretBytes } from "./signing-secrets.js";

const now = () => Date.now();
const options = (secrets: string[]) => ({ secrets, toleranceSeconds: 300, now });
/** A delivery as the sender makes it: the scheme's own sample body, signed with `secret`. */
function delivery(scheme: SignatureScheme, secret: string, type = "thing.happened"): WebhookDelivery & { id: string } {
  const id = randomUUID();
  const body = JSON.stringify(scheme.sampleBody(type, id, { n: 1 }));
  const headers = scheme.sign(body, secret, { id, type, timestampSeconds: Math.floor(now() / 1000) });
  return { id, body: Buffer.from(body), headers };
}
const failure = (fn: () => void) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof WebhookSignatureError) return err.reason;
    throw err;
  }
  return undefined;
};

describe.each(["stripe", "standard-webhooks", "github", "shopify"])("the built-in %s scheme", (name) => {
  const scheme = signatureScheme(name);
  const secret = scheme.newSecret();

  it("verifies what it signs, and finds the event id and type where its sender puts them", () => {
    const d = delivery(scheme, secret, "orders/create");
    const payload = JSON.parse(d.body.toString()) as Record<string, unknown>;

    expect(failure(() => scheme.verify(d, options([secret])))).toBeUndefined();
    expect(scheme.eventId(d, payload)).toBe(d.id);
    expect(scheme.eventType(d, payload)).toBe("orders/create");
  });

  it("refuses a delivery signed with another secret, a changed body, and one without its signature", () => {
    const d = delivery(scheme, secret);
    const other = delivery(scheme, scheme.newSecret());
    const signatureHeaders = Object.keys(d.headers).filter((h) => /signature|hmac/.test(h));

    expect(failure(() => scheme.verify(other, options([secret])))).toBe("no matching signature");
    expect(failure(() => scheme.verify({ ...d, body: Buffer.from(`${d.body} `) }, options([secret])))).toBe(
      "no matching signature",
    );
    const unsigned = Object.fromEntries(Object.entries(d.headers).filter(([h]) => !signatureHeaders.includes(h)));
    expect(failure(() => scheme.verify({ ...d, headers: unsigned }, options([secret])))).toBe(
      "missing signature headers",
    );
  });

  it("accepts any of several secrets, so a sender can roll its secret", () => {
    const d = delivery(scheme, secret);

    expect(failure(() => scheme.verify(d, options([scheme.newSecret(), secret])))).toBeUndefined();
  });

  it("makes signing secrets with at least 24 bytes of key", () => {
    expect(scheme.keyBytes(scheme.newSecret())).toBeGreaterThanOrEqual(minSigningSecretBytes);
    expect(scheme.newSecret()).not.toBe(scheme.newSecret());
  });
});

describe("GitHub's scheme, against GitHub's own library", () => {
  const github = signatureScheme("github");

  it("signs as @octokit/webhooks-methods verifies, and verifies what it signs", async () => {
    const secret = github.newSecret();
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const headers = github.sign(body, secret, { id: "d1", type: "push", timestampSeconds: 0 });

    expect(await verifyGitHub(secret, body, headers["x-hub-signature-256"] as string)).toBe(true);
    expect(headers).toMatchObject({ "x-github-delivery": "d1", "x-github-event": "push" });
  });

  it("refuses a malformed X-Hub-Signature-256 (the old sha1= form included)", () => {
    const d = delivery(github, "s".repeat(32));
    const sha1 = { ...d, headers: { ...d.headers, "x-hub-signature-256": `sha1=${"a".repeat(40)}` } };

    expect(failure(() => github.verify(sha1, options(["s".repeat(32)])))).toBe("malformed signature header");
  });

  it("signs no timestamp and not the delivery id: replay protection is the id, and content", () => {
    expect(github).toMatchObject({ signsTimestamp: false, signsEventId: false });
  });
});

describe("Shopify's scheme", () => {
  it("signs as Shopify's docs compute it: base64 HMAC-SHA256 of the raw body with the client secret", () => {
    const shopify = signatureScheme("shopify");
    const body = JSON.stringify({ id: 1, total_price: "10.00" });

    const headers = shopify.sign(body, "client-secret-client-secret-0001", {
      id: "w1",
      type: "orders/create",
      timestampSeconds: 0,
    });

    expect(headers["x-shopify-hmac-sha256"]).toBe(
      createHmac("sha256", "client-secret-client-secret-0001").update(body, "utf8").digest("base64"),
    );
  });
});

describe("the scheme registry", () => {
  it("holds the built-in schemes", () => {
    expect(signatureSchemeNames()).toEqual(
      expect.arrayContaining(["github", "shopify", "standard-webhooks", "stripe"]),
    );
  });

  it("refuses an unknown name, listing the registered ones", () => {
    expect(() => signatureScheme("gitlab")).toThrow(UnknownSignatureSchemeError);
    expect(() => signatureScheme("gitlab")).toThrow(/registered: .*github.*shopify/);
  });

  it("refuses another scheme under a taken name, and a name that is not kebab-case", () => {
    const github = signatureScheme("github");

    expect(() => registerSignatureScheme({ ...github })).toThrow(/registered already/);
    expect(registerSignatureScheme(github)).toBe(github);
    expect(() => registerSignatureScheme({ ...github, name: "Not_Kebab" })).toThrow(/kebab-case/);
  });

  it("lets defineManifest refuse an unknown scheme and accept one registered in a file of your own", () => {
    const spec = (signature: string): WebhookSpec => ({
      name: `hook-${signature}`,
      handler: "src/hook.handler",
      trigger: { kind: "http", method: "POST", path: `/webhooks/${signature}` },
      signature,
      scopes: ["entity:Order:read"],
      timeoutSeconds: 10,
    });
    registerSignatureScheme({
      ...signatureScheme("github"),
      name: "acme-hooks",
      verify: ({ body, headers }, { secrets }) => {
        const given = Buffer.from(headers["x-acme-signature"] ?? "", "hex");
        if (!secrets.some((s) => hmacSha256(s, body).equals(given)))
          throw new WebhookSignatureError("no matching signature", "check the Acme secret");
      },
    });

    expect(() => defineManifest([spec("gitlab")])).toThrow(/"gitlab" is not a registered signature scheme/);
    expect(defineManifest([spec("acme-hooks")])).toHaveLength(1);
  });
});
