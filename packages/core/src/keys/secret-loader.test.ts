import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type LocalSecretsManager, startLocalSecretsManager } from "@flxbl-lambda/local";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  parseSecretValue,
  SecretAccessDeniedError,
  SecretEmptyKeyError,
  SecretLoader,
  SecretMalformedError,
  SecretNotFoundError,
  SecretUnavailableError,
} from "./secret-loader.js";

const fakeKey = "flxbl_TESTtest_notarealkeynotarealkey00";

describe("parseSecretValue", () => {
  it.each([
    ["a bare key", fakeKey, { apiKey: fakeKey, signingSecrets: [] }],
    ["a bare key with whitespace", `  ${fakeKey}\n`, { apiKey: fakeKey, signingSecrets: [] }],
    ["JSON with the key", JSON.stringify({ apiKey: fakeKey }), { apiKey: fakeKey, signingSecrets: [] }],
    [
      "JSON with signing secrets",
      JSON.stringify({ apiKey: fakeKey, signingSecrets: ["s1", "s2"] }),
      { apiKey: fakeKey, signingSecrets: ["s1", "s2"] },
    ],
  ])("reads %s", (_, value, expected) => {
    expect(parseSecretValue("fn/secret", value)).toEqual(expected);
  });

  it.each([
    ["broken JSON", `{"apiKey": "${fakeKey}"`, SecretMalformedError],
    ["JSON of the wrong shape", JSON.stringify({ apiKey: 42, extra: fakeKey }), SecretMalformedError],
    [
      "signing secrets that are not strings",
      JSON.stringify({ apiKey: fakeKey, signingSecrets: [1] }),
      SecretMalformedError,
    ],
    ["no SecretString", undefined, SecretMalformedError],
    ["an empty string", "   ", SecretEmptyKeyError],
    ["JSON without a key", JSON.stringify({ signingSecrets: ["whsec_abc"] }), SecretEmptyKeyError],
  ])("refuses %s with an error naming the secret but not the value", (_, value, errorClass) => {
    let thrown: unknown;
    try {
      parseSecretValue("fn/secret", value);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(errorClass);
    expect((thrown as Error).message).toContain("fn/secret");
    expect((thrown as Error).message).not.toContain(fakeKey);
    expect((thrown as Error).message).not.toContain("whsec_abc");
  });
});

describe("SecretLoader through the AWS SDK and a local Secrets Manager endpoint", () => {
  let sm: LocalSecretsManager;
  let admin: SecretsManagerClient;
  let n = 0;
  const name = () => `app/test/loader-${++n}`;
  const clientFor = (accessKeyId = "function-role") =>
    new SecretsManagerClient({
      endpoint: sm.url,
      region: "us-east-1",
      credentials: { accessKeyId, secretAccessKey: "local" },
      maxAttempts: 1,
    });
  const create = (secretName: string, value: string) =>
    admin.send(new CreateSecretCommand({ Name: secretName, SecretString: value }));

  beforeAll(async () => {
    sm = await startLocalSecretsManager({ authorize: ({ accessKeyId }) => accessKeyId !== "other-role" });
    admin = clientFor("admin");
  });
  afterAll(() => sm.close());
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("finds the endpoint from AWS_ENDPOINT_URL_SECRETS_MANAGER with a default SDK client", async () => {
    const secretName = name();
    await create(secretName, JSON.stringify({ apiKey: fakeKey }));
    vi.stubEnv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.url);
    vi.stubEnv("AWS_REGION", "us-east-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", "function-role");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "local");
    const loader = new SecretLoader({ secretId: secretName });
    expect((await loader.get()).apiKey).toBe(fakeKey);
  });

  it("serves repeated reads within the TTL from memory: one call to Secrets Manager", async () => {
    const secretName = name();
    await create(secretName, fakeKey);
    const loader = new SecretLoader({ secretId: secretName, client: clientFor() });
    sm.resetCalls();
    for (let i = 0; i < 100; i++) await loader.get();
    expect(sm.calls.GetSecretValue).toBe(1);
    expect(loader.fetches).toBe(1);
  });

  it("shares one read among concurrent cold callers", async () => {
    const secretName = name();
    await create(secretName, fakeKey);
    const loader = new SecretLoader({ secretId: secretName, client: clientFor() });
    sm.resetCalls();
    const results = await Promise.all(Array.from({ length: 50 }, () => loader.get()));
    expect(new Set(results.map((r) => r.apiKey))).toEqual(new Set([fakeKey]));
    expect(sm.calls.GetSecretValue).toBe(1);
  });

  it("reads again once the TTL has passed and picks up a new value", async () => {
    const secretName = name();
    await create(secretName, fakeKey);
    let now = 1_000_000;
    const loader = new SecretLoader({ secretId: secretName, client: clientFor(), ttlMs: 60_000, now: () => now });
    await loader.get();
    await admin.send(
      new PutSecretValueCommand({ SecretId: secretName, SecretString: "flxbl_NEWnewNE_rotatedkeyrotatedkey00" }),
    );
    now += 59_000;
    expect((await loader.get()).apiKey).toBe(fakeKey);
    now += 2_000;
    expect((await loader.get()).apiKey).toBe("flxbl_NEWnewNE_rotatedkeyrotatedkey00");
    expect(loader.fetches).toBe(2);
  });

  it("refreshes on a refused key only when the cache still holds that key", async () => {
    const secretName = name();
    await create(secretName, fakeKey);
    const loader = new SecretLoader({ secretId: secretName, client: clientFor() });
    const source = loader.apiKeySource();
    await source.get();
    await admin.send(
      new PutSecretValueCommand({ SecretId: secretName, SecretString: "flxbl_NEWnewNE_rotatedkeyrotatedkey00" }),
    );

    const first = await source.refresh?.(fakeKey);
    const second = await source.refresh?.(fakeKey);

    expect(first).toBe("flxbl_NEWnewNE_rotatedkeyrotatedkey00");
    expect(second).toBe("flxbl_NEWnewNE_rotatedkeyrotatedkey00");
    expect(loader.fetches).toBe(2);
  });

  it("maps a missing secret to SecretNotFoundError and does not cache the failure", async () => {
    const secretName = name();
    const loader = new SecretLoader({ secretId: secretName, client: clientFor() });
    await expect(loader.get()).rejects.toBeInstanceOf(SecretNotFoundError);
    await create(secretName, fakeKey);
    expect((await loader.get()).apiKey).toBe(fakeKey);
  });

  it("maps a refused read to SecretAccessDeniedError naming the secret", async () => {
    const secretName = name();
    await create(secretName, fakeKey);
    const loader = new SecretLoader({ secretId: secretName, client: clientFor("other-role") });
    const err = await loader.get().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretAccessDeniedError);
    expect((err as Error).message).toContain(secretName);
  });

  it("maps an unreachable endpoint to SecretUnavailableError", async () => {
    const dead = await startLocalSecretsManager();
    await dead.close();
    const loader = new SecretLoader({
      secretId: "any",
      client: new SecretsManagerClient({
        endpoint: dead.url,
        region: "us-east-1",
        credentials: { accessKeyId: "x", secretAccessKey: "y" },
        maxAttempts: 1,
      }),
    });
    await expect(loader.get()).rejects.toBeInstanceOf(SecretUnavailableError);
  });

  it("surfaces a prefetch failure on the next get instead of as an unhandled rejection", async () => {
    const loader = new SecretLoader({ secretId: name(), client: clientFor() });
    loader.prefetch();
    await expect(loader.get()).rejects.toBeInstanceOf(SecretNotFoundError);
  });
});
