import { randomUUID } from "node:crypto";
import { signatureScheme, signatureSchemeNames } from "@flxbl-lambda/core";
import { describe, expect, it } from "vitest";
import { maskBody, maskHeaders, signatureHeaders } from "./mask.js";

describe("maskHeaders", () => {
  it("finds the signature header of every built-in scheme by asking the schemes", () => {
    expect([...signatureHeaders()].sort()).toEqual(
      expect.arrayContaining(["stripe-signature", "webhook-signature", "x-hub-signature-256", "x-shopify-hmac-sha256"]),
    );
  });

  it.each(signatureSchemeNames())("masks what the %s scheme signs with and keeps its id and type headers", (name) => {
    const scheme = signatureScheme(name);
    const secret = scheme.newSecret();
    const signed = scheme.sign('{"a":1}', secret, {
      id: "evt_1",
      type: "thing.happened",
      timestampSeconds: 1_700_000_000,
    });

    const masked = maskHeaders(signed);

    const signing = Object.keys(signed).filter((h) => signatureHeaders().has(h));
    expect(signing.length).toBeGreaterThan(0);
    for (const [header, value] of Object.entries(signed))
      expect(masked[header], header).toBe(signing.includes(header) ? "[REDACTED]" : value);
    expect(JSON.stringify(masked)).not.toContain(secret);
  });

  it("masks secret-named headers and secret shapes in the others, and keeps the rest as sent", () => {
    const key = `flxbl_AbCd1234_${randomUUID().replaceAll("-", "")}`;

    const masked = maskHeaders({
      authorization: `Bearer ${key}`,
      "x-api-key": key,
      cookie: "session=abc",
      "x-forwarded-for": `see ${key}`,
      "content-type": "application/json",
      "x-many": ["a", "b"],
    });

    expect(masked).toEqual({
      authorization: "[REDACTED]",
      "x-api-key": "[REDACTED]",
      cookie: "[REDACTED]",
      "x-forwarded-for": "see [REDACTED flxbl key]",
      "content-type": "application/json",
      "x-many": "a, b",
    });
  });
});

describe("maskBody", () => {
  it("indents JSON and redacts secret-named fields in it", () => {
    expect(maskBody('{"id":"evt_1","client_secret":"pi_1_secret_2"}')).toBe(
      '{\n  "id": "evt_1",\n  "client_secret": "[REDACTED]"\n}',
    );
  });

  it("redacts secret shapes in a body that is not JSON", () => {
    expect(maskBody("token=abc&page=2 whsec_c2VjcmV0c2VjcmV0")).toBe(
      "token=[REDACTED]&page=2 [REDACTED signing secret]",
    );
  });
});
