import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import {
  type FaultProxy,
  type LocalSecretsManager,
  startFaultProxy,
  startLocalSecretsManager,
} from "@flxbl-lambda/aws-local";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { metricNames } from "../observe/catalog.js";
import { Telemetry } from "../observe/telemetry.js";
import {
  parseSecretValue,
  SecretAccessDeniedError,
  SecretDeletedError,
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
  /** Secrets the function role may no longer read (its IAM policy changed). */
  const denied = new Set<string>();
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
    sm = await startLocalSecretsManager({
      authorize: ({ accessKeyId, secretName }) =>
        accessKeyId !== "other-role" && !(secretName !== undefined && denied.has(secretName)),
    });
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
    let now = 1_000_000;
    const loader = new SecretLoader({ secretId: secretName, client: clientFor(), now: () => now });
    const source = loader.apiKeySource();
    await source.get();
    await admin.send(
      new PutSecretValueCommand({ SecretId: secretName, SecretString: "flxbl_NEWnewNE_rotatedkeyrotatedkey00" }),
    );
    now += 11_000;

    const first = await source.refresh?.(fakeKey);
    const second = await source.refresh?.(fakeKey);

    expect(first).toBe("flxbl_NEWnewNE_rotatedkeyrotatedkey00");
    expect(second).toBe("flxbl_NEWnewNE_rotatedkeyrotatedkey00");
    expect(loader.fetches).toBe(2);
  });

  it("re-reads on a refused key at most once per 10 s, however often FLXBL refuses it", async () => {
    const secretName = name();
    await create(secretName, fakeKey);
    let now = 1_000_000;
    const loader = new SecretLoader({ secretId: secretName, client: clientFor(), now: () => now });
    const source = loader.apiKeySource();
    await source.get();

    // FLXBL refuses the stored key over and over (revoked out of band): 100 refusals in 9 s.
    for (let i = 0; i < 100; i++) {
      now += 90;
      await source.refresh?.(fakeKey);
    }
    const within = loader.fetches;
    now += 2_000;
    await source.refresh?.(fakeKey);

    expect(within).toBe(1);
    expect(loader.fetches).toBe(2);
  });

  it("maps a missing secret to SecretNotFoundError, remembers it for a moment, then reads again", async () => {
    const secretName = name();
    let now = 1_000_000;
    const loader = new SecretLoader({ secretId: secretName, client: clientFor(), now: () => now });
    await expect(loader.get()).rejects.toBeInstanceOf(SecretNotFoundError);
    await create(secretName, fakeKey);

    await expect(loader.get()).rejects.toBeInstanceOf(SecretNotFoundError);
    const remembered = loader.fetches;
    now += 1_100;

    expect((await loader.get()).apiKey).toBe(fakeKey);
    expect(remembered).toBe(1);
  });

  it('maps a secret scheduled for deletion (AWS: InvalidRequestException, "marked for deletion") to SecretDeletedError saying how to restore it, and reads it again once restored', async () => {
    const secretName = name();
    await create(secretName, fakeKey);
    await admin.send(new DeleteSecretCommand({ SecretId: secretName }));
    let now = 1_000_000;
    const loader = new SecretLoader({ secretId: secretName, client: clientFor(), now: () => now });

    const error = await loader.get().catch((err: unknown) => err);
    await admin.send(new RestoreSecretCommand({ SecretId: secretName }));
    now += 1_100;

    expect(error).toBeInstanceOf(SecretDeletedError);
    expect((error as Error).message).toBe(
      `Secret ${secretName} is scheduled for deletion; restore it (aws secretsmanager restore-secret --secret-id ${secretName}) or provision it again`,
    );
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

  describe("through a Secrets Manager outage", () => {
    let proxy: FaultProxy;
    const warnings: Array<Record<string, unknown>> = [];
    const logger = { warn: (_message: string, attributes: Record<string, unknown>) => warnings.push(attributes) };
    beforeEach(async () => {
      proxy = await startFaultProxy(sm.url);
      warnings.length = 0;
    });
    afterEach(() => proxy.close());

    /** A warm loader (one good read) behind the proxy, with a clock the test moves. */
    const warm = async (options: { maxStaleMs?: number } = {}) => {
      const secretName = name();
      await create(secretName, JSON.stringify({ apiKey: fakeKey, signingSecrets: ["whsec_c2lnbmluZ3NlY3JldA=="] }));
      const clock = { now: 1_000_000 };
      const loader = new SecretLoader({
        secretId: secretName,
        client: new SecretsManagerClient({
          endpoint: proxy.url,
          region: "us-east-1",
          credentials: { accessKeyId: "function-role", secretAccessKey: "local" },
          maxAttempts: 1,
        }),
        ttlMs: 1_000,
        maxStaleMs: options.maxStaleMs ?? 60_000,
        readTimeoutMs: 300,
        logger,
        now: () => clock.now,
      });
      await loader.get();
      return { loader, clock, secretName };
    };

    it.each(["refuse", "hang", "reset"] as const)(
      "keeps serving the last good value when Secrets Manager is %s, and logs one warning per failed read",
      async (mode) => {
        const { loader, clock } = await warm();
        await proxy.set(mode);
        clock.now += 1_500;
        // Inside an invocation: what it served stale, and the failed read, are its metrics.
        const telemetry = new Telemetry({ serviceName: "stale-test" });
        const invocation = telemetry.start();

        const values = [];
        for (let i = 0; i < 20; i++) values.push((await loader.get()).apiKey);

        expect(values.every((v) => v === fakeKey)).toBe(true);
        expect(loader.fetches).toBe(2);
        expect(invocation.counts.get(metricNames.keys.staleServes)).toBe(20);
        expect(invocation.counts.get(metricNames.keys.readFailures)).toBe(1);
        telemetry.finish(invocation);
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatchObject({ attempt: 1, nextAttemptInMs: 1_000 });
        expect(JSON.stringify(warnings)).not.toContain(fakeKey);
      },
    );

    it("retries in the background with growing waits, without making any caller wait, and recovers when it is back", async () => {
      const { loader, clock, secretName } = await warm();
      await proxy.set("refuse");
      clock.now += 1_500;
      await loader.get();
      const attempts = [];
      for (const step of [500, 600, 1_000, 1_000, 1_000, 1_000]) {
        clock.now += step;
        const started = performance.now();
        await loader.get();
        attempts.push({ fetches: loader.fetches, waitedMs: performance.now() - started });
        await new Promise((r) => setTimeout(r, 20));
      }
      await proxy.set("pass");
      await admin.send(
        new PutSecretValueCommand({
          SecretId: secretName,
          SecretString: JSON.stringify({ apiKey: "flxbl_NEWnewNE_rotatedkeyrotatedkey00" }),
        }),
      );
      clock.now += 4_100;
      await loader.get();
      await new Promise((r) => setTimeout(r, 50));

      // Reads at +1 s, +2 s, +4 s after the first failure: the backoff doubles.
      expect(attempts.map((a) => a.fetches)).toEqual([2, 3, 3, 4, 4, 4]);
      expect(attempts.every((a) => a.waitedMs < 100)).toBe(true);
      expect((await loader.get()).apiKey).toBe("flxbl_NEWnewNE_rotatedkeyrotatedkey00");
    });

    it("gives every caller the last good value while a background read hangs, not only the one that started it", async () => {
      const { loader, clock } = await warm();
      await proxy.set("hang");
      clock.now += 1_500;
      await loader.get(); // the first failed read: 300 ms, then the last good value
      clock.now += 1_100; // past the first backoff: the next call starts a read in the background

      const during = await Promise.all([loader.get(), loader.get(), loader.refresh(), loader.get()]);

      expect(during.map((s) => s.apiKey)).toEqual([fakeKey, fakeKey, fakeKey, fakeKey]);
      expect(loader.fetches).toBe(3);
    });

    it("answers a refused key with SecretUnavailableError (503) when Secrets Manager cannot give a new one", async () => {
      const { loader, clock } = await warm();
      await proxy.set("refuse");
      clock.now += 11_000;
      const source = loader.apiKeySource();

      const error = await source.refresh?.(fakeKey).catch((err: unknown) => err);

      expect(error).toBeInstanceOf(SecretUnavailableError);
      expect((error as Error).message).not.toContain(fakeKey);
    });

    it("stops serving the old value once the max-stale window has passed", async () => {
      const { loader, clock } = await warm({ maxStaleMs: 5_000 });
      await proxy.set("refuse");
      clock.now += 1_500;
      await loader.get();
      clock.now += 5_000;

      await expect(loader.get()).rejects.toBeInstanceOf(SecretUnavailableError);
    });

    it("keeps the last good value when the new value is malformed, until a good one is stored", async () => {
      const { loader, clock, secretName } = await warm();
      await admin.send(new PutSecretValueCommand({ SecretId: secretName, SecretString: '{"apiKey": ' }));
      clock.now += 1_500;

      const during = (await loader.get()).apiKey;
      await admin.send(
        new PutSecretValueCommand({ SecretId: secretName, SecretString: "flxbl_NEWnewNE_rotatedkeyrotatedkey00" }),
      );
      clock.now += 1_100;
      await loader.get();
      await new Promise((r) => setTimeout(r, 50));

      expect(during).toBe(fakeKey);
      expect(warnings[0]?.reason).toMatch(/does not parse/);
      expect((await loader.get()).apiKey).toBe("flxbl_NEWnewNE_rotatedkeyrotatedkey00");
    });

    it.each([
      ["the secret is deleted", "ResourceNotFoundException", SecretNotFoundError],
      ["the secret is scheduled for deletion", "InvalidRequestException", SecretDeletedError],
      ["access is denied", "AccessDeniedException", SecretAccessDeniedError],
    ] as const)("does not serve the old value when %s: that is no outage", async (_, __, errorClass) => {
      const { loader, clock, secretName } = await warm();
      if (errorClass === SecretNotFoundError)
        await admin.send(new DeleteSecretCommand({ SecretId: secretName, ForceDeleteWithoutRecovery: true }));
      else if (errorClass === SecretDeletedError)
        await admin.send(new DeleteSecretCommand({ SecretId: secretName, RecoveryWindowInDays: 7 }));
      else denied.add(secretName);
      clock.now += 1_500;

      await expect(loader.get()).rejects.toBeInstanceOf(errorClass);
    });

    it("bounds reads during a flood of requests when there is no value to serve", async () => {
      await proxy.set("hang");
      let now = 1_000_000;
      const loader = new SecretLoader({
        secretId: name(),
        client: new SecretsManagerClient({
          endpoint: proxy.url,
          region: "us-east-1",
          credentials: { accessKeyId: "function-role", secretAccessKey: "local" },
          maxAttempts: 1,
        }),
        readTimeoutMs: 200,
        now: () => now,
      });

      const started = performance.now();
      const errors = [];
      for (let i = 0; i < 200; i++) {
        errors.push(await loader.get().catch((err: unknown) => err));
        now += 10;
      }

      expect(errors.every((e) => e instanceof SecretUnavailableError)).toBe(true);
      // 2 s of requests: a read at 0, then 1 s and 2 s of remembered failure.
      expect(loader.fetches).toBeLessThanOrEqual(3);
      expect(performance.now() - started).toBeLessThan(2_000);
    });

    it("gives up on a hung read within its timeout", async () => {
      await proxy.set("hang");
      const loader = new SecretLoader({
        secretId: name(),
        client: new SecretsManagerClient({
          endpoint: proxy.url,
          region: "us-east-1",
          credentials: { accessKeyId: "function-role", secretAccessKey: "local" },
        }),
        readTimeoutMs: 500,
      });

      const started = performance.now();
      await expect(loader.get()).rejects.toBeInstanceOf(SecretUnavailableError);
      expect(performance.now() - started).toBeLessThan(1_500);
    });
  });

  it("surfaces a prefetch failure on the next get instead of as an unhandled rejection", async () => {
    const loader = new SecretLoader({ secretId: name(), client: clientFor() });
    loader.prefetch();
    await expect(loader.get()).rejects.toBeInstanceOf(SecretNotFoundError);
  });
});
