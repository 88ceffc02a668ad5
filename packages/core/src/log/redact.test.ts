import { afterEach, describe, expect, it, vi } from "vitest";
import { isSensitiveKey, redact, redactingReplacer, redactString } from "./redact.js";
import { fakeFlxblKey, secretShapes } from "./test-helpers.js";

const key = fakeFlxblKey;

/** Every name rule 1 must catch, one or more per rule. */
const sensitiveNames = [
  // contains a secret word
  "secret",
  "client_secret",
  "signingSecrets",
  "secretString",
  "password",
  "db-password",
  "passwd",
  "passphrase",
  "token",
  "access_token",
  "AWS_SESSION_TOKEN",
  "X-Amz-Security-Token",
  "apiKey",
  "api-key",
  "api_key",
  "x-api-key",
  "X Api Key",
  "Authorization",
  "proxy-authorization",
  "credential",
  "credentials",
  "cookie",
  "set-cookie",
  "session",
  "signature",
  "stripe-signature",
  "webhook-signature",
  "AWS_SECRET_ACCESS_KEY",
  // ends in <qualifier>key
  "adminKey",
  "privateKey",
  "private.key",
  "accessKey",
  "secretKey",
  "signingKey",
  "signingKeys",
  "sessionKey",
  "masterKey",
  "encryption_key",
  "clientKey",
  "authKey",
  // exact short names
  "auth",
  "Auth",
  "pwd",
  "sig",
];

/** Names that only identify a secret, or are not about secrets at all. */
const ordinaryNames = [
  "secretId",
  "secretArn",
  "secretName",
  "secretIds",
  "secret_arns",
  "webhookSecretArn",
  "keyId",
  "key_id",
  "previousKeyId",
  "apiKeyId",
  "tokenType",
  "key",
  "monkey",
  "idempotencyKey",
  "author",
  "signal",
  "orderId",
  "message",
  "name",
  "0",
];

describe("isSensitiveKey", () => {
  it.each(sensitiveNames)("treats %s as a secret name", (name) => {
    expect(isSensitiveKey(name)).toBe(true);
  });

  it.each(ordinaryNames)("does not treat %s as a secret name", (name) => {
    expect(isSensitiveKey(name)).toBe(false);
  });
});

describe("redactString", () => {
  it.each(secretShapes)("hides $shape", ({ text, secrets }) => {
    const out = redactString(text);

    for (const secret of secrets) expect(out).not.toContain(secret);
    expect(out).toContain("[REDACTED");
  });

  it.each(secretShapes)("leaves $shape redacted the same on a second pass", ({ text }) => {
    const once = redactString(text);

    expect(redactString(once)).toBe(once);
  });

  it.each([
    ["a FLXBL key, labelled", `refused key ${key}`, "refused key [REDACTED flxbl key]"],
    ["a bearer token, keeping the scheme", "Bearer abc.def", "Bearer [REDACTED]"],
    [
      "URL userinfo, keeping the host",
      "https://user:notarealpass@host.example.com/x",
      "https://[REDACTED]@host.example.com/x",
    ],
    [
      "query values, keeping the names and other parameters",
      "/o?page=2&key=notareal1&X-Amz-Signature=abc123#frag",
      "/o?page=2&key=[REDACTED]&X-Amz-Signature=[REDACTED]#frag",
    ],
    ["embedded JSON, keeping other fields", '{"apiKey":"notreal","x":1}', '{"apiKey":"[REDACTED]","x":1}'],
    ["a JSON object under a secret name", '{"credentials":{"user":"bob"},"x":1}', '{"credentials":"[REDACTED]","x":1}'],
    ["a free-text pair", "password=notreal and user=bob", "password=[REDACTED] and user=bob"],
    ["a quoted pair, keeping its quotes", "token='notreal' next", "token='[REDACTED]' next"],
    [
      "a secret pair inside a URL",
      "https://x.example/?session=notreal&y=1",
      "https://x.example/?session=[REDACTED]&y=1",
    ],
    ["a Stripe signature", `v0=${"ab".repeat(10)}`, "v0=[REDACTED]"],
    [
      "a token used as the user name of an https URL",
      "cloning https://notarealtoken0123456789@git.example.com/org/repo",
      "cloning https://[REDACTED]@git.example.com/org/repo",
    ],
    [
      "a PEM private key, however it is labelled",
      "private: -----BEGIN RSA PRIVATE KEY-----\nMIIEnotreal\nabc\n-----END RSA PRIVATE KEY----- done",
      "private: [REDACTED private key] done",
    ],
    ["a PEM private key cut short", "key -----BEGIN PRIVATE KEY----- MIIEnotreal", "key [REDACTED private key]"],
  ])("replaces %s exactly", (_, text, expected) => {
    expect(redactString(text)).toBe(expected);
  });

  it.each([
    "order node_1234 moved to paid",
    "keyId key_123",
    "previousKeyId=key_122 keyId=key_123",
    "flxbl-lambda/prod/payments-webhook",
    "loading secret flxbl-lambda/prod/payments-webhook",
    "secretId: flxbl-lambda/prod/payments-webhook",
    "secretArn=arn:aws:secretsmanager:us-east-1:000000000000:secret:flxbl-lambda/prod/orders-AbCdEf",
    "loading arn:aws:secretsmanager:us-east-1:000000000000:secret:flxbl-lambda/prod/orders-AbCdEf",
    "tokenType: Bearer",
    "uses basic authentication",
    "Basic plan for 3 users",
    "GET https://api.example.com/orders?page=2&sort=asc",
    "ssh://git@github.com/org/repo.git",
    "at loadSecret (file:///var/task/keys/secret-loader.ts:45:12)",
    "at SessionStore.get (/var/task/session.js:7:3)",
    "job expire-stale-orders finished: 3 changed, 0 failed",
    '{"orderId":"o_1","status":"paid","total":100}',
    "v1 webhook received at 12:30",
    "monkey=banana idempotencyKey=evt_123",
    "the token expired; retrying",
    "Error: Request failed with status 429",
    "SecretUnavailableError: Reading secret flxbl-lambda/prod/payments-webhook failed (TimeoutError)",
    "InvalidTokenException: the token expired",
    "[REDACTED]",
    "",
  ])("leaves ordinary text alone: %j", (text) => {
    expect(redactString(text)).toBe(text);
  });

  describe("the function's AWS credentials", () => {
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    it.each([
      ["AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
      ["AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjEXAMPLEnotarealsessiontoken"],
      ["AWS_ACCESS_KEY_ID", "LOCALEXAMPLEKEYID1234"],
    ])("hides the current value of %s wherever it appears", (variable, value) => {
      vi.stubEnv(variable, value);

      const out = redactString(`signed with ${value}; again:${value}`);

      expect(out).toBe("signed with [REDACTED aws credential]; again:[REDACTED aws credential]");
    });

    it("reads the environment on every call", () => {
      vi.stubEnv("AWS_SESSION_TOKEN", "firstNotARealSessionToken");
      redactString("warm up");
      vi.stubEnv("AWS_SESSION_TOKEN", "secondNotARealSessionToken");

      expect(redactString("token secondNotARealSessionToken")).toBe("token [REDACTED aws credential]");
    });

    it("ignores short placeholder values such as local", () => {
      vi.stubEnv("AWS_SECRET_ACCESS_KEY", "local");
      vi.stubEnv("AWS_ACCESS_KEY_ID", "local");
      vi.stubEnv("AWS_SESSION_TOKEN", "local-token");

      expect(redactString("local development with local-token")).toBe("local development with local-token");
    });
  });
});

describe("redact", () => {
  it.each(sensitiveNames)("hides the value under %s", (name) => {
    expect(redact({ [name]: "plain-value", other: "plain-value" })).toEqual({
      [name]: "[REDACTED]",
      other: "plain-value",
    });
  });

  it.each(ordinaryNames.filter((name) => name !== "0"))("keeps the value under %s", (name) => {
    expect(redact({ [name]: "plain-value" })).toEqual({ [name]: "plain-value" });
  });

  it("hides values under secret-named keys at any depth, whatever their case", () => {
    const out = redact({ a: { Authorization: "x", nested: [{ apiKey: "y", signingSecrets: ["z"] }] }, keep: 1 });
    expect(out).toEqual({
      a: { Authorization: "[REDACTED]", nested: [{ apiKey: "[REDACTED]", signingSecrets: "[REDACTED]" }] },
      keep: 1,
    });
  });

  it("replaces an object or array under a secret name whole, and keeps null and undefined", () => {
    const out = redact({
      credentials: { user: "bob", pass: "x" },
      tokens: ["a", "b"],
      session: null,
      cookie: undefined,
    });
    expect(out).toEqual({ credentials: "[REDACTED]", tokens: "[REDACTED]", session: null });
  });

  it("hides secret-shaped strings under ordinary keys", () => {
    expect(redact({ note: `key=${key}` })).toEqual({ note: "key=[REDACTED flxbl key]" });
  });

  it("hides header values in [name, value] tuples", () => {
    const headers = [
      ["authorization", "Bearer notarealtoken"],
      ["x-api-key", "notarealapikey"],
      ["accept", "application/json"],
    ];
    expect(redact({ headers })).toEqual({
      headers: [
        ["authorization", "[REDACTED]"],
        ["x-api-key", "[REDACTED]"],
        ["accept", "application/json"],
      ],
    });
  });

  it("hides header values in Node's flat rawHeaders", () => {
    const rawHeaders = ["Host", "api.example.com", "X-Api-Key", "notarealapikey", "Cookie", "c=1", "Accept", "*/*"];
    expect(redact({ rawHeaders })).toEqual({
      rawHeaders: ["Host", "api.example.com", "X-Api-Key", "[REDACTED]", "Cookie", "[REDACTED]", "Accept", "*/*"],
    });
  });

  it("does not take a header value for the name of the next header", () => {
    expect(redact(["X-Api-Key", "token", "Accept", "*/*"])).toEqual(["X-Api-Key", "[REDACTED]", "Accept", "*/*"]);
  });

  it("does not treat a sentence in an array as a header name", () => {
    expect(redact(["the token expired", "retrying"])).toEqual(["the token expired", "retrying"]);
  });

  it.each([
    ["a Buffer", Buffer.from(key), key.length],
    ["a Uint8Array", new TextEncoder().encode(key), key.length],
    ["an ArrayBuffer", new TextEncoder().encode(key).buffer, key.length],
    ["a DataView", new DataView(new ArrayBuffer(5)), 5],
  ])("prints %s as its size, never its bytes", (_, body, bytes) => {
    const json = JSON.stringify({ body }, redactingReplacer);

    expect(json).toBe(`{"body":"[binary ${bytes} bytes]"}`);
  });

  it("expands a nested Error and redacts its message, stack, cause and properties", () => {
    const cause = new Error(`inner whsec_bm90YXJlYWxzaWduaW5nc2VjcmV0Zm9ydGVzdHM=`);
    const error = Object.assign(new TypeError(`refused ${key}`, { cause }), { status: 401, apiKey: "notreal" });

    const out = redact({ error }) as unknown as { error: Record<string, unknown> & { cause: Record<string, unknown> } };

    expect(JSON.stringify(out)).not.toContain(key);
    expect(JSON.stringify(out)).not.toContain("bm90YXJlYWxzaWduaW5nc2VjcmV0Zm9ydGVzdHM=");
    expect(out.error).toMatchObject({
      name: "TypeError",
      message: "refused [REDACTED flxbl key]",
      status: 401,
      apiKey: "[REDACTED]",
      cause: { name: "Error", message: "inner [REDACTED signing secret]" },
    });
    expect(out.error.stack).toMatch(/^TypeError: refused \[REDACTED flxbl key\]\n\s+at /);
    expect(out.error.cause.stack).toMatch(/^Error: inner \[REDACTED signing secret\]\n/);
  });

  it("expands the errors of an AggregateError", () => {
    const out = redact({ error: new AggregateError([new Error(`one ${key}`)], "two failed") });

    expect(out).toMatchObject({ error: { message: "two failed", errors: [{ message: "one [REDACTED flxbl key]" }] } });
  });

  it("ends a cause chain that loops in [Circular]", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    a.cause = b;

    expect(redact({ a })).toMatchObject({ a: { message: "a", cause: { message: "b", cause: "[Circular]" } } });
  });

  it("does not throw on cycles or BigInts", () => {
    const cyclic: Record<string, unknown> = { n: 1n };
    cyclic.self = cyclic;

    expect(redact(cyclic)).toEqual({ n: "1", self: "[Circular]" });
  });
});
