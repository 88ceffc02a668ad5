import { randomBytes } from "node:crypto";
import {
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { type LocalSecretsManager, startLocalSecretsManager } from "@flxbl-lambda/aws-local";
import { FlxblAdmin, type FunctionSpec } from "@flxbl-lambda/core";
import { type Emulator, startEmulator } from "@flxbl-lambda/emulator";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  newSigningSecret,
  type ProvisionedSecret,
  type ProvisionResult,
  provisionKeys,
  SecretScheduledForDeletionError,
  SigningSecretRefusedError,
} from "./provision.js";
import { manifest, schema } from "./test-fixtures/shop.js";

const secretName = (fn: string) => `flxbl-lambda/test/${fn}`;
/** A signing secret as provisioning makes it: `whsec_` + the base64 of 32 bytes. */
const generated = /^whsec_[A-Za-z0-9+/]{43}=$/;

describe("newSigningSecret", () => {
  it("makes whsec_ + 32 random bytes in base64, a new one each time", () => {
    const a = newSigningSecret();
    const b = newSigningSecret();

    expect(generated.test(a)).toBe(true);
    expect(Buffer.from(a.slice("whsec_".length), "base64")).toHaveLength(32);
    expect(a === b).toBe(false);
  });
});

interface ListedKey {
  id: string;
  name: string;
  scopes: string[];
}

describe("provisionKeys, against the emulator and the local Secrets Manager endpoint", () => {
  let flxbl: Emulator;
  let sm: LocalSecretsManager;
  let secrets: SecretsManagerClient;

  const provision = (specs: readonly FunctionSpec[] = manifest) =>
    provisionKeys({
      manifest: specs,
      flxbl: { url: flxbl.url, adminKey: flxbl.adminKey },
      secrets,
      secretName,
      keyPrefix: "flxbl-lambda/test",
    });
  const listKeys = async (): Promise<ListedKey[]> => {
    const res = await fetch(`${flxbl.url}/api-keys`, { headers: { authorization: `Bearer ${flxbl.adminKey}` } });
    return (await res.json()) as ListedKey[];
  };
  const revokeKey = (id: string) =>
    fetch(`${flxbl.url}/api-keys/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${flxbl.adminKey}` } });
  /** A secret as stored, every field of it (an old one may hold `scopes`). */
  const readSecret = async (fn: string): Promise<ProvisionedSecret & Record<string, unknown>> => {
    const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretName(fn) }));
    return JSON.parse(out.SecretString ?? "") as ProvisionedSecret & Record<string, unknown>;
  };
  const putSecret = (fn: string, value: unknown) =>
    secrets.send(new PutSecretValueCommand({ SecretId: secretName(fn), SecretString: JSON.stringify(value) }));
  const secretVersion = async (fn: string) =>
    (await secrets.send(new GetSecretValueCommand({ SecretId: secretName(fn) }))).VersionId;
  /** FLXBL's status for a read with `apiKey`: 401 when it does not know the key (a 403 still authenticated it). */
  const statusWith = async (apiKey: string) => {
    const res = await fetch(`${flxbl.url}/dynamic/Order/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ limit: 1 }),
    });
    await res.arrayBuffer();
    return res.status;
  };
  const byFunction = (results: ProvisionResult[], fn: string) => {
    const result = results.find((r) => r.function === fn);
    if (!result) throw new Error(`no result for ${fn}`);
    return result;
  };

  beforeEach(async () => {
    [flxbl, sm] = await Promise.all([startEmulator({ schema }), startLocalSecretsManager()]);
    secrets = new SecretsManagerClient({
      endpoint: sm.url,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 1,
    });
  });
  afterEach(async () => {
    secrets.destroy();
    await Promise.all([flxbl.close(), sm.close()]);
  });

  describe("on a fresh FLXBL and no secrets", () => {
    it("creates one key per function", async () => {
      const results = await provision();

      expect(results.map((r) => [r.function, r.action])).toEqual(manifest.map((s) => [s.name, "created"]));
      expect((await listKeys()).map((k) => k.id).sort()).toEqual(results.map((r) => r.keyId).sort());
    });

    it("gives each key exactly its function's manifest scopes, named after the function", async () => {
      const results = await provision();
      const keys = await listKeys();

      for (const spec of manifest) {
        const key = keys.find((k) => k.id === byFunction(results, spec.name).keyId);
        expect(key?.name).toBe(`flxbl-lambda/test/${spec.name}`);
        expect(key?.scopes.sort()).toEqual([...spec.scopes].sort());
      }
    });

    it("writes each function's secret with a working key and its id, and no scopes (the manifest has them)", async () => {
      const results = await provision();

      for (const spec of manifest) {
        const secret = await readSecret(spec.name);
        expect(Object.keys(secret).sort(), spec.name).toEqual(["apiKey", "keyId", "signingSecrets"]);
        expect(secret.keyId, spec.name).toBe(byFunction(results, spec.name).keyId);
        expect(await statusWith(secret.apiKey), spec.name).not.toBe(401);
      }
    });

    it("gives webhooks one whsec_ signing secret and jobs none", async () => {
      await provision();

      for (const spec of manifest) {
        const { signingSecrets } = await readSecret(spec.name);
        const expected = spec.trigger.kind === "http" ? [true] : [];
        expect(
          signingSecrets.map((s) => generated.test(s)),
          spec.name,
        ).toEqual(expected);
      }
    });
  });

  describe("run again", () => {
    it("keeps every working key and creates none", async () => {
      const first = await provision();

      const second = await provision();

      expect(second.map((r) => [r.function, r.action, r.keyId])).toEqual(
        first.map((r) => [r.function, "kept", r.keyId]),
      );
      expect(await listKeys()).toHaveLength(manifest.length);
    });

    it("leaves every kept function's secret unchanged", async () => {
      await provision();
      const versions = await Promise.all(manifest.map((s) => secretVersion(s.name)));

      await provision();

      expect(await Promise.all(manifest.map((s) => secretVersion(s.name)))).toEqual(versions);
    });
  });

  describe("a key revoked in FLXBL", () => {
    it("is replaced by a new working key in the same secret", async () => {
      const first = await provision();
      const old = byFunction(first, "payments-webhook");
      await revokeKey(old.keyId);

      const second = await provision();

      const replaced = byFunction(second, "payments-webhook");
      const secret = await readSecret("payments-webhook");
      expect(replaced).toMatchObject({ action: "replaced", reason: expect.stringMatching(/revoked/) });
      expect(replaced.keyId).not.toBe(old.keyId);
      expect(secret.keyId).toBe(replaced.keyId);
      expect(await statusWith(secret.apiKey)).not.toBe(401);
    });

    it("keeps the webhook's signing secrets, so its sender needs no change", async () => {
      await provision();
      const before = (await readSecret("payments-webhook")).signingSecrets;
      await revokeKey((await readSecret("payments-webhook")).keyId ?? "");

      await provision();

      // A boolean, so a failure never prints a signing secret.
      expect((await readSecret("payments-webhook")).signingSecrets.join() === before.join()).toBe(true);
    });

    it("leaves the other functions' keys alone", async () => {
      const first = await provision();
      await revokeKey(byFunction(first, "payments-webhook").keyId);

      const second = await provision();

      expect(
        second.filter((r) => r.function !== "payments-webhook").map((r) => [r.function, r.action, r.keyId]),
      ).toEqual(first.filter((r) => r.function !== "payments-webhook").map((r) => [r.function, "kept", r.keyId]));
    });
  });

  describe("a function whose manifest scopes changed", () => {
    const widened = (specs: readonly FunctionSpec[]) =>
      specs.map((s) =>
        s.name === "expire-stale-orders" ? { ...s, scopes: [...s.scopes, "entity:Product:read" as const] } : s,
      );

    it("gets a new key with the new scopes", async () => {
      await provision();

      const results = await provision(widened(manifest));

      const result = byFunction(results, "expire-stale-orders");
      const key = (await listKeys()).find((k) => k.id === result.keyId);
      expect(result).toMatchObject({ action: "replaced", reason: "the manifest's scopes changed" });
      expect(key?.scopes.sort()).toEqual(["entity:Order:read", "entity:Order:update", "entity:Product:read"]);
      expect((await readSecret("expire-stale-orders")).keyId).toBe(result.keyId);
    });

    it("has its old key revoked", async () => {
      const first = await provision();
      const oldKeyId = byFunction(first, "expire-stale-orders").keyId;
      const oldApiKey = (await readSecret("expire-stale-orders")).apiKey;

      await provision(widened(manifest));

      expect((await listKeys()).map((k) => k.id)).not.toContain(oldKeyId);
      expect(await statusWith(oldApiKey)).toBe(401);
    });
  });

  describe("a secret that holds no usable key", () => {
    it.each([
      ["text that is not JSON", "not json at all"],
      ["JSON null", "null"],
      ["a JSON array", "[1,2,3]"],
      ["an object without apiKey", '{"hello":"world"}'],
    ])("is replaced when it holds %s", async (_what, garbage) => {
      await provision();
      await secrets.send(
        new PutSecretValueCommand({ SecretId: secretName("low-stock-alerts"), SecretString: garbage }),
      );

      const results = await provision();

      const secret = await readSecret("low-stock-alerts");
      expect(byFunction(results, "low-stock-alerts").action).toBe("replaced");
      expect(secret.keyId).toBe(byFunction(results, "low-stock-alerts").keyId);
      expect(await statusWith(secret.apiKey)).not.toBe(401);
    });

    it("gives a webhook a new signing secret when the stored ones are not a list", async () => {
      await provision();
      await secrets.send(
        new PutSecretValueCommand({
          SecretId: secretName("inventory-webhook"),
          SecretString: JSON.stringify({ signingSecrets: "whsec_not-a-list" }),
        }),
      );

      await provision();

      const { signingSecrets } = await readSecret("inventory-webhook");
      expect(signingSecrets.map((s) => generated.test(s))).toEqual([true]);
    });

    it("is replaced when its key is one FLXBL refuses, and the listed key it named is revoked", async () => {
      const first = await provision();
      const listed = byFunction(first, "low-stock-alerts").keyId;
      const current = await readSecret("low-stock-alerts");
      const forged = { ...current, apiKey: "flxbl_abcdefgh_00000000000000000000000000000000" };
      await secrets.send(
        new PutSecretValueCommand({ SecretId: secretName("low-stock-alerts"), SecretString: JSON.stringify(forged) }),
      );

      const results = await provision();

      // The emulator lists each key's prefix, so the forged key is caught before FLXBL is asked.
      expect(byFunction(results, "low-stock-alerts")).toMatchObject({
        action: "replaced",
        reason: "the secret's key is not the key its keyId names",
      });
      expect((await listKeys()).map((k) => k.id)).not.toContain(listed);
    });
  });

  describe("a secret written by an older version, with a scopes field", () => {
    it("is read and kept when its key works, whatever scopes it claims", async () => {
      const first = await provision();
      const current = await readSecret("expire-stale-orders");
      await putSecret("expire-stale-orders", { ...current, scopes: ["entity:*:*"] });

      const second = await provision();

      expect(byFunction(second, "expire-stale-orders")).toMatchObject({
        action: "kept",
        keyId: byFunction(first, "expire-stale-orders").keyId,
      });
      const key = (await listKeys()).find((k) => k.id === byFunction(second, "expire-stale-orders").keyId);
      expect(key?.scopes.sort()).toEqual(["entity:Order:read", "entity:Order:update"]);
    });

    it("loses the field when provisioning writes the secret again (here: a webhook given a signing secret)", async () => {
      await provision();
      const current = await readSecret("inventory-webhook");
      await putSecret("inventory-webhook", { ...current, scopes: ["entity:*:*"], signingSecrets: [] });

      const results = await provision();

      const secret = await readSecret("inventory-webhook");
      expect(byFunction(results, "inventory-webhook").action).toBe("kept");
      expect(Object.keys(secret).sort()).toEqual(["apiKey", "keyId", "signingSecrets"]);
      expect(secret.signingSecrets.map((s) => generated.test(s))).toEqual([true]);
    });

    it("loses the field when its key is replaced", async () => {
      const first = await provision();
      const current = await readSecret("low-stock-alerts");
      await putSecret("low-stock-alerts", { ...current, scopes: ["entity:*:*"] });
      await revokeKey(byFunction(first, "low-stock-alerts").keyId);

      await provision();

      expect(Object.keys(await readSecret("low-stock-alerts")).sort()).toEqual(["apiKey", "keyId", "signingSecrets"]);
    });
  });

  describe("a secret holding a key its rotation made (named <secret>@<version>)", () => {
    it("is kept, as the function's own key", async () => {
      await provision();
      const admin = new FlxblAdmin({ baseUrl: flxbl.url, adminKey: flxbl.adminKey });
      const rotated = await admin.createKey(`${secretName("low-stock-alerts")}@v2`, [
        ...(manifest.find((s) => s.name === "low-stock-alerts")?.scopes ?? []),
      ]);
      await putSecret("low-stock-alerts", { apiKey: rotated.key, keyId: rotated.id, signingSecrets: [] });

      const results = await provision();

      expect(byFunction(results, "low-stock-alerts")).toMatchObject({ action: "kept", keyId: rotated.id });
    });
  });

  describe("a secret whose keyId names another function's key", () => {
    it("is replaced, and the other function's key is neither kept for it nor revoked when its scopes change", async () => {
      const first = await provision();
      const payments = await readSecret("payments-webhook");
      const current = await readSecret("expire-stale-orders");
      // payments-webhook has the same scopes, so the key it names passes as one with the right scopes.
      await putSecret("expire-stale-orders", { ...current, keyId: payments.keyId });
      const widened = manifest.map((s) =>
        s.name === "expire-stale-orders" ? { ...s, scopes: [...s.scopes, "entity:Product:read" as const] } : s,
      );

      const results = await provision(widened);

      expect(byFunction(results, "expire-stale-orders")).toMatchObject({
        action: "replaced",
        reason: "the secret's keyId names a key that is not this function's",
      });
      expect(byFunction(results, "payments-webhook")).toMatchObject({
        action: "kept",
        keyId: byFunction(first, "payments-webhook").keyId,
      });
      expect((await listKeys()).map((k) => k.id)).toContain(payments.keyId);
      expect(await statusWith(payments.apiKey)).not.toBe(401);
    });
  });

  describe("a secret whose key is not the one its keyId names", () => {
    it("is replaced: the id alone does not vouch for the key the secret holds", async () => {
      await provision();
      const payments = await readSecret("payments-webhook");
      const current = await readSecret("expire-stale-orders");
      // Its own key id, paired with another function's key of the same scopes.
      await putSecret("expire-stale-orders", { ...current, apiKey: payments.apiKey });

      const results = await provision();

      expect(byFunction(results, "expire-stale-orders")).toMatchObject({ action: "replaced" });
      expect((await readSecret("expire-stale-orders")).apiKey).not.toBe(payments.apiKey);
    });
  });

  describe("a function's secret scheduled for deletion (DeleteSecret within its recovery window)", () => {
    const scheduleDeletion = async (fn: string) => {
      await secrets.send(new DeleteSecretCommand({ SecretId: secretName(fn), RecoveryWindowInDays: 7 }));
      return (await secrets.send(new DescribeSecretCommand({ SecretId: secretName(fn) }))).DeletedDate as Date;
    };

    it("is refused by default, naming each such secret, when it was deleted and how to restore it, changing nothing", async () => {
      await provision();
      const paymentsDeleted = await scheduleDeletion("payments-webhook");
      const alertsDeleted = await scheduleDeletion("low-stock-alerts");
      // A key provisioning would replace, were it not refused.
      await revokeKey((await readSecret("inventory-webhook")).keyId ?? "");
      const keysBefore = (await listKeys()).map((k) => k.id).sort();
      const inventoryVersion = await secretVersion("inventory-webhook");

      const err = await provision().then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(err).toBeInstanceOf(SecretScheduledForDeletionError);
      const refusal = err as SecretScheduledForDeletionError;
      expect(refusal.secrets.map((s) => [s.function, s.secretName, s.deletedDate?.getTime()])).toEqual([
        ["payments-webhook", secretName("payments-webhook"), paymentsDeleted.getTime()],
        ["low-stock-alerts", secretName("low-stock-alerts"), alertsDeleted.getTime()],
      ]);
      expect(refusal.message).toContain(
        `payments-webhook: secret ${secretName("payments-webhook")} was scheduled for deletion on ${paymentsDeleted.toISOString()}`,
      );
      expect(refusal.message).toContain(
        `aws secretsmanager restore-secret --secret-id ${secretName("low-stock-alerts")}`,
      );
      expect(refusal.message).toContain(
        `aws secretsmanager delete-secret --secret-id ${secretName("payments-webhook")} --force-delete-without-recovery`,
      );
      expect(await secretVersion("inventory-webhook")).toBe(inventoryVersion);
      expect((await listKeys()).map((k) => k.id).sort()).toEqual(keysBefore);
    });

    it("is restored and provisioned as usual when asked to (npm start): a working key is kept", async () => {
      const first = await provision();
      const before = await readSecret("payments-webhook");
      await scheduleDeletion("payments-webhook");

      const results = await provisionKeys({
        manifest,
        flxbl: { url: flxbl.url, adminKey: flxbl.adminKey },
        secrets,
        secretName,
        keyPrefix: "flxbl-lambda/test",
        scheduledForDeletion: "restore",
      });

      const payments = byFunction(results, "payments-webhook");
      expect([payments.action, payments.keyId]).toEqual(["kept", byFunction(first, "payments-webhook").keyId]);
      expect(payments.reason).toBe("restored from scheduled deletion; working key with the manifest's scopes");
      expect(
        (await secrets.send(new DescribeSecretCommand({ SecretId: secretName("payments-webhook") }))).DeletedDate,
      ).toBe(undefined);
      expect((await readSecret("payments-webhook")).apiKey === before.apiKey).toBe(true);
    });
  });

  describe("a webhook's stored signing secret shorter than 24 bytes of key", () => {
    /** `whsec_` + the base64 of `bytes` random bytes: a Standard Webhooks key of that many bytes. */
    const standardSecret = (bytes: number) => `whsec_${randomBytes(bytes).toString("base64")}`;
    /** A Stripe-style secret whose text after `whsec_` is `chars` characters (Stripe's key is the text). */
    const stripeSecret = (chars: number) => `whsec_${randomBytes(chars).toString("hex").slice(0, chars)}`;
    const refusal = async (): Promise<SigningSecretRefusedError> => {
      const err = await provision().then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!(err instanceof SigningSecretRefusedError)) throw new Error(`expected a refusal, got ${String(err)}`);
      return err;
    };

    it("is refused, naming the function, its secret and the fix, never the value", async () => {
      await provision();
      const short = standardSecret(16);
      await putSecret("inventory-webhook", { ...(await readSecret("inventory-webhook")), signingSecrets: [short] });

      const err = await refusal();

      expect(err.problems).toEqual([
        "inventory-webhook: signingSecrets[0] in secret flxbl-lambda/test/inventory-webhook gives 16 bytes of key; at least 24 are needed (standard-webhooks)",
      ]);
      expect(err.message).toMatch(/^Refusing to provision: signing secrets too short to trust/);
      expect(err.message).toMatch(/Fix: replace each with a secret of at least 24 bytes of key/);
      // Booleans, so a failure never prints the signing secret.
      expect(err.message.includes(short.slice("whsec_".length, "whsec_".length + 8))).toBe(false);
    });

    it("is refused for a Stripe webhook by the length of the text after whsec_", async () => {
      await provision();
      await putSecret("payments-webhook", {
        ...(await readSecret("payments-webhook")),
        signingSecrets: [newSigningSecret(), stripeSecret(20)],
      });

      const err = await refusal();

      expect(err.problems).toEqual([
        "payments-webhook: signingSecrets[1] in secret flxbl-lambda/test/payments-webhook gives 20 bytes of key; at least 24 are needed (stripe)",
      ]);
    });

    it("is reported with every other short one, before anything is changed", async () => {
      await provision();
      const keysBefore = (await listKeys()).map((k) => k.id).sort();
      await putSecret("payments-webhook", {
        ...(await readSecret("payments-webhook")),
        signingSecrets: [stripeSecret(8)],
      });
      await putSecret("inventory-webhook", {
        ...(await readSecret("inventory-webhook")),
        signingSecrets: [standardSecret(8)],
      });
      // A key provisioning would replace, were it not refused.
      const revoked = (await readSecret("low-stock-alerts")).keyId ?? "";
      await revokeKey(revoked);
      const versions = await Promise.all(manifest.map((s) => secretVersion(s.name)));

      const err = await refusal();

      expect(err.problems.map((p) => p.split(":")[0])).toEqual(["payments-webhook", "inventory-webhook"]);
      expect(await Promise.all(manifest.map((s) => secretVersion(s.name)))).toEqual(versions);
      expect((await listKeys()).map((k) => k.id).sort()).toEqual(keysBefore.filter((id) => id !== revoked));
    });

    it("is accepted at exactly 24 bytes (what provisioning used to make), and kept", async () => {
      await provision();
      const old = [standardSecret(24)];
      await putSecret("inventory-webhook", { ...(await readSecret("inventory-webhook")), signingSecrets: old });

      const results = await provision();

      expect(byFunction(results, "inventory-webhook").action).toBe("kept");
      expect((await readSecret("inventory-webhook")).signingSecrets.join() === old.join()).toBe(true);
    });
  });
});
