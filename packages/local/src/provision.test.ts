import { readFileSync } from "node:fs";
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { FunctionSpec } from "@flxbl-lambda/core";
import { type Emulator, startEmulator } from "@flxbl-lambda/emulator";
import { manifest } from "@flxbl-lambda/functions";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ProvisionedSecret, type ProvisionResult, provisionKeys } from "./provision.js";
import { type LocalSecretsManager, startLocalSecretsManager } from "./secrets-manager.js";

const schema = JSON.parse(
  readFileSync(new URL("../../functions/flxbl/schema.json", import.meta.url), "utf8"),
) as unknown;
const secretName = (fn: string) => `flxbl-lambda/test/${fn}`;

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
  const readSecret = async (fn: string): Promise<ProvisionedSecret> => {
    const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretName(fn) }));
    return JSON.parse(out.SecretString ?? "") as ProvisionedSecret;
  };
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

    it("writes each function's secret with a working key, its id and its scopes", async () => {
      const results = await provision();

      for (const spec of manifest) {
        const secret = await readSecret(spec.name);
        expect(secret.keyId, spec.name).toBe(byFunction(results, spec.name).keyId);
        expect(secret.scopes, spec.name).toEqual([...spec.scopes]);
        expect(await statusWith(secret.apiKey), spec.name).not.toBe(401);
      }
    });

    it("gives webhooks one whsec_ signing secret and jobs none", async () => {
      await provision();

      for (const spec of manifest) {
        const { signingSecrets } = await readSecret(spec.name);
        const expected = spec.trigger.kind === "http" ? [true] : [];
        expect(
          signingSecrets.map((s) => /^whsec_[A-Za-z0-9+/]{32}$/.test(s)),
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
      expect(signingSecrets.map((s) => /^whsec_[A-Za-z0-9+/]{32}$/.test(s))).toEqual([true]);
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

      expect(byFunction(results, "low-stock-alerts")).toMatchObject({
        action: "replaced",
        reason: "the secret's key is refused",
      });
      expect((await listKeys()).map((k) => k.id)).not.toContain(listed);
    });
  });
});
