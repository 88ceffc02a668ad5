import { randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { type Emulator, startEmulator } from "@flxbl-lambda/emulator";
import { type LocalSecretsManager, startLocalSecretsManager } from "@flxbl-lambda/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import appSchema from "../../../functions/flxbl/schema.json" with { type: "json" };
import { FlxblAdmin } from "./admin.js";
import { type RotationStep, rotateNow, rotateStep } from "./rotation.js";

const scopes = ["entity:Order:read", "entity:Order:update"];

describe("key rotation against the emulator and a local Secrets Manager endpoint", () => {
  let flxbl: Emulator;
  let sm: LocalSecretsManager;
  let secrets: SecretsManagerClient;
  let admin: FlxblAdmin;

  /** A function secret as provisioning leaves it: a key with `scopes`, its id and the scopes. */
  async function provisioned(extra: Record<string, unknown> = {}) {
    const created = await admin.createKey(`test/${randomUUID()}`, scopes);
    const secretId = `flxbl-lambda/test/${randomUUID()}`;
    await secrets.send(
      new CreateSecretCommand({
        Name: secretId,
        SecretString: JSON.stringify({
          apiKey: created.key,
          keyId: created.id,
          scopes,
          signingSecrets: ["whsec_a"],
          ...extra,
        }),
      }),
    );
    return { secretId, keyId: created.id, apiKey: created.key };
  }
  const current = async (secretId: string, stage = "AWSCURRENT") =>
    JSON.parse(
      (await secrets.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }))).SecretString ?? "{}",
    ) as { apiKey: string; keyId: string; scopes: string[]; signingSecrets: string[]; previousKeyId?: string };
  const liveKeyIds = async () => new Set((await admin.listKeys()).map((k) => k.id));
  const step = (secretId: string, token: string, s: RotationStep) =>
    rotateStep({ SecretId: secretId, ClientRequestToken: token, Step: s }, { secrets, admin, graceMs: 0 });

  beforeAll(async () => {
    flxbl = await startEmulator({ schema: appSchema });
    sm = await startLocalSecretsManager();
    secrets = new SecretsManagerClient({
      endpoint: sm.url,
      region: "us-east-1",
      credentials: { accessKeyId: "rotation", secretAccessKey: "local" },
    });
    admin = new FlxblAdmin({ baseUrl: flxbl.url, adminKey: flxbl.adminKey });
  });
  afterAll(async () => {
    await flxbl.close();
    await sm.close();
  });

  it("replaces the key with a new one of the same scopes, keeps signing secrets, and revokes the old key", async () => {
    const before = await provisioned();

    await rotateNow(before.secretId, { secrets, admin, graceMs: 0 });

    const after = await current(before.secretId);
    expect(after.keyId).not.toBe(before.keyId);
    expect(after.apiKey).not.toBe(before.apiKey);
    expect(after.signingSecrets).toEqual(["whsec_a"]);
    const listed = await admin.listKeys();
    expect(listed.find((k) => k.id === after.keyId)?.scopes.sort()).toEqual([...scopes].sort());
    expect(listed.some((k) => k.id === before.keyId)).toBe(false);
    expect(await admin.keyWorks(after.apiKey, scopes)).toBe(true);
    expect(await admin.keyWorks(before.apiKey, scopes)).toBe(false);
  });

  it("keeps the old key working through the grace period, and revokes it after", async () => {
    const before = await provisioned();
    const rotation = rotateNow(before.secretId, { secrets, admin, graceMs: 400 });
    await new Promise((r) => setTimeout(r, 250));
    const duringGrace = await admin.keyWorks(before.apiKey, scopes);
    const promotedDuringGrace = (await current(before.secretId)).keyId !== before.keyId;
    await rotation;
    expect(promotedDuringGrace).toBe(true);
    expect(duringGrace).toBe(true);
    expect(await admin.keyWorks(before.apiKey, scopes)).toBe(false);
  });

  it("creates one pending key however often createSecret is retried", async () => {
    const { secretId } = await provisioned();
    const token = randomUUID();
    const keysBefore = (await admin.listKeys()).length;

    await step(secretId, token, "createSecret");
    await step(secretId, token, "createSecret");
    await step(secretId, token, "createSecret");

    expect((await admin.listKeys()).length).toBe(keysBefore + 1);
    expect((await current(secretId, "AWSPENDING")).keyId).toBeDefined();
  });

  it("revokes a key an interrupted createSecret left behind before making the next", async () => {
    const { secretId } = await provisioned();
    const token = randomUUID();
    const orphan = await admin.createKey(`${secretId}@${token}`, scopes);

    await step(secretId, token, "createSecret");

    expect((await liveKeyIds()).has(orphan.id)).toBe(false);
    expect((await current(secretId, "AWSPENDING")).keyId).not.toBe(orphan.id);
  });

  it("leaves AWSCURRENT untouched when the new key fails its test", async () => {
    const before = await provisioned();
    const token = randomUUID();
    await step(before.secretId, token, "createSecret");
    const pending = await current(before.secretId, "AWSPENDING");
    await admin.revokeKey(pending.keyId);

    await expect(step(before.secretId, token, "testSecret")).rejects.toThrow(/refused; AWSCURRENT stays/);

    expect((await current(before.secretId)).keyId).toBe(before.keyId);
    expect(await admin.keyWorks(before.apiKey, scopes)).toBe(true);
  });

  it("finishes only once: a repeated finishSecret changes nothing more", async () => {
    const before = await provisioned();
    const token = randomUUID();
    for (const s of ["createSecret", "setSecret", "testSecret", "finishSecret"] as const)
      await step(before.secretId, token, s);
    const once = await secrets.send(new DescribeSecretCommand({ SecretId: before.secretId }));

    await step(before.secretId, token, "finishSecret");

    const twice = await secrets.send(new DescribeSecretCommand({ SecretId: before.secretId }));
    expect(twice.VersionIdsToStages).toEqual(once.VersionIdsToStages);
    expect(twice.VersionIdsToStages?.[token]).toContain("AWSCURRENT");
  });

  it("refuses to rotate a secret that was never provisioned, naming the fix", async () => {
    const secretId = `flxbl-lambda/test/${randomUUID()}`;
    await secrets.send(new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify({ apiKey: "" }) }));
    await expect(rotateNow(secretId, { secrets, admin, graceMs: 0 })).rejects.toThrow(/npm run keys -- provision/);
  });
});
