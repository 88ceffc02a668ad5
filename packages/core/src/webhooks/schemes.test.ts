import { createHmac, randomUUID } from "node:crypto";
import { verify as verifyGitHub } from "@octokit/webhooks-methods";
import { describe, expect, it } from "vitest";
import { redactString } from "../log/redact.js";
import { defineManifest, type WebhookSpec } from "../manifest.js";
import { WebhookSignatureError } from "./errors.js";
import {
  hmacSha256,
  minSigningSecretBytes,
  registerSignatureScheme,
  type SignatureScheme,
  signatureScheme,
  signatureSchemeNames,
  UnknownSignatureSchemeError,
  type WebhookDelivery,
} from "./scheme.js";

const now = () => Date.now();
const options = (secrets: string[]) => ({ secrets, toleranceSeconds: 300, now });
/** A delivery as the sender makes it: the scheme's own sample body, signed with `secret`. */
function delivery(scheme: SignatureScheme, secret: string, type = "thing.happened"): WebhookDelivery & { id: string } {
  const id = randomUUID();
  const body = JSON.stringify(scheme.sampleBody(type, id, { n: 1 }));
  const headers = scheme.sign(body, secret, { id, type, timestampSeconds: Math.floor(now() / 1000) });
  return { id, body: Buffer.from(body), headers };
}
/** What a check said: undefined for a genuine delivery, else why not (`false` is "no matching signature"). */
const failure = (fn: () => boolean) => {
  try {
    return fn() === true ? undefined : "no matching signature";
  } catch (err) {
    if (err instanceof WebhookSignatureError) return err.reason;
    throw err;
  }
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

  it("refuses an empty signature header, and never verifies with a short or empty secret", () => {
    const d = delivery(scheme, secret);
    const emptied = Object.fromEntries(
      Object.entries(d.headers).map(([h, v]) => [h, /signature|hmac/.test(h) ? "" : v]),
    );
    const weak = delivery(scheme, "");

    expect(failure(() => scheme.verify({ ...d, headers: emptied }, options([secret])))).toBe(
      "missing signature headers",
    );
    expect(failure(() => scheme.verify(weak, options([""])))).toBe("no matching signature");
  });

  it("gives hints the redacting logger prints whole: no word after a header's or a secret's name is taken for a value", () => {
    const d = delivery(scheme, secret);
    const signatureHeaders = Object.keys(d.headers).filter((h) => /signature|hmac/.test(h));
    const variants = [
      Object.fromEntries(Object.entries(d.headers).filter(([h]) => !signatureHeaders.includes(h))),
      { ...d.headers, ...Object.fromEntries(signatureHeaders.map((h) => [h, "garbage"])) },
    ];
    const hints: string[] = [];
    for (const headers of [...variants, d.headers])
      try {
        scheme.verify({ ...d, headers }, options(headers === d.headers ? [scheme.newSecret()] : [secret]));
      } catch (err) {
        if (err instanceof WebhookSignatureError) hints.push(err.hint);
      }

    expect(hints.length).toBeGreaterThanOrEqual(2);
    for (const hint of hints) expect(redactString(hint)).toBe(hint);
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

  it("refuses two signatures joined in one header, and a signature that is not hex", () => {
    const secret = github.newSecret();
    const d = delivery(github, secret);
    const given = d.headers["x-hub-signature-256"] as string;
    const joined = { ...d, headers: { ...d.headers, "x-hub-signature-256": `${given},${given}` } };
    const notHex = { ...d, headers: { ...d.headers, "x-hub-signature-256": `sha256=${"z".repeat(64)}` } };

    expect(failure(() => github.verify(joined, options([secret])))).toBe("malformed signature header");
    expect(failure(() => github.verify(notHex, options([secret])))).toBe("malformed signature header");
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

  it("refuses a signature that is not a base64 SHA-256 HMAC", () => {
    const shopify = signatureScheme("shopify");
    const secret = shopify.newSecret();
    const d = delivery(shopify, secret);
    const given = d.headers["x-shopify-hmac-sha256"] as string;

    for (const bad of [given.slice(0, -2), `${given}=`, given.replace(/^./, "*"), Buffer.from("x").toString("hex")])
      expect(
        failure(() =>
          shopify.verify({ ...d, headers: { ...d.headers, "x-shopify-hmac-sha256": bad } }, options([secret])),
        ),
      ).toBe("malformed signature header");
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
    expect(() => signatureScheme("githubb")).toThrow(/did you mean "github"\?/);
    expect(() => signatureScheme("gitlab")).not.toThrow(/did you mean/);
  });

  it("refuses another scheme under a taken name, and a name that is not kebab-case", () => {
    const github = signatureScheme("github");

    expect(() => registerSignatureScheme({ ...github })).toThrow(/registered already/);
    expect(registerSignatureScheme(github)).toBe(github);
    expect(() => registerSignatureScheme({ ...github, name: "Not_Kebab" })).toThrow(/kebab-case/);
  });

  it("hands out schemes that cannot be changed: a built-in's verify stays in place", () => {
    const github = signatureScheme("github");
    const forged = delivery(github, github.newSecret());

    expect(() => {
      (github as { verify: SignatureScheme["verify"] }).verify = () => true;
    }).toThrow(TypeError);
    expect(failure(() => signatureScheme("github").verify(forged, options([github.newSecret()])))).toBe(
      "no matching signature",
    );
  });

  it("takes nothing but true from verify as genuine: not undefined, not a promise", () => {
    const secret = "s".repeat(32);
    const lax = (name: string, verify: () => unknown) =>
      registerSignatureScheme({ ...signatureScheme("github"), name, verify: verify as SignatureScheme["verify"] });
    const silent = lax("lax-silent", () => undefined);
    const pending = lax("lax-async", async () => true);
    const genuine = delivery(silent, secret);

    expect(silent.verify(genuine, options([secret]))).toBe(false);
    expect(pending.verify(genuine, options([secret]))).toBe(false);
  });

  it("takes a scheme written as a class, its methods and their `this` included", () => {
    const github = signatureScheme("github");
    class PrefixedScheme implements SignatureScheme {
      readonly name = "prefixed-hooks";
      readonly signsTimestamp = false;
      readonly signsEventId = false;
      readonly prefix = "v1=";
      verify({ body, headers }: WebhookDelivery, { secrets }: { secrets: readonly string[] }): boolean {
        const given = headers["x-prefixed-signature"] ?? "";
        return secrets.some((s) => given === `${this.prefix}${hmacSha256(s, body).toString("hex")}`);
      }
      eventId = github.eventId;
      eventType = github.eventType;
      keyBytes = github.keyBytes;
      newSecret = github.newSecret;
      sampleBody = github.sampleBody;
      sign(body: string, secret: string): Record<string, string> {
        return { "x-prefixed-signature": `${this.prefix}${hmacSha256(secret, body).toString("hex")}` };
      }
    }
    const scheme = registerSignatureScheme(new PrefixedScheme());
    const secret = "s".repeat(32);
    const d = delivery(scheme, secret);

    expect(scheme.verify(d, options([secret]))).toBe(true);
    expect(scheme.verify(d, options(["t".repeat(32)]))).toBe(false);
  });

  it("refuses a scheme that lacks a member, naming it", () => {
    const { sign: _sign, ...unsigned } = signatureScheme("github");

    expect(() => registerSignatureScheme({ ...unsigned, name: "no-signer" } as SignatureScheme)).toThrow(
      /"no-signer" lacks sign/,
    );
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
        return secrets.some((s) => hmacSha256(s, body).equals(given));
      },
    });

    expect(() => defineManifest([spec("gitlab")])).toThrow(/"gitlab" is not a registered signature scheme/);
    expect(defineManifest([spec("acme-hooks")])).toHaveLength(1);
  });
});
