import { describe, expect, it } from "vitest";
import { redact, redactString } from "./redact.js";

const key = "flxbl_AbCd1234_thisIsNotARealKeyButLooksLikeOne";

describe("redactString", () => {
  it.each([
    ["a FLXBL key", `using ${key} now`, key],
    [
      "a Standard Webhooks secret",
      "secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=",
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=",
    ],
    ["a Stripe secret key", "sk_test_51Habcdefghijklmnop", "sk_test_51Habcdefghijklmnop"],
    ["a bearer token", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "eyJhbGciOiJIUzI1NiJ9.e30.abc"],
    ["a Stripe signature", `t=1700000000,v1=${"a1".repeat(32)}`, "a1".repeat(32)],
    [
      "a Standard Webhooks signature",
      "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
      "K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    ],
  ])("hides %s", (_, text, secret) => {
    expect(redactString(text)).not.toContain(secret);
  });

  it("leaves ordinary text alone", () => {
    expect(redactString("order node_1234 moved to paid")).toBe("order node_1234 moved to paid");
  });
});

describe("redact", () => {
  it("hides values under secret-named keys at any depth, whatever their case", () => {
    const out = redact({ a: { Authorization: "x", nested: [{ apiKey: "y", signingSecrets: ["z"] }] }, keep: 1 });
    expect(out).toEqual({
      a: { Authorization: "[REDACTED]", nested: [{ apiKey: "[REDACTED]", signingSecrets: "[REDACTED]" }] },
      keep: 1,
    });
  });

  it("hides secret-shaped strings under ordinary keys", () => {
    expect(redact({ note: `key=${key}` })).toEqual({ note: "key=[REDACTED flxbl key]" });
  });
});
