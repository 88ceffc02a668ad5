import { randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { type LocalSecretsManager, startLocalSecretsManager } from "@flxbl-lambda/aws-local";
import { type Emulator, startEmulator } from "@flxbl-lambda/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appSchema } from "../../../emulator/src/test-helpers.js";
import { FlxblAdmin } from "./admin.js";
import { type RotationOptions, type RotationStep, rotateStep } from "./rotation.js";

const scopes = ["entity:Order:read", "entity:Order:update"];
const prefix = "flxbl-lambda/test/";
/** The manifest's authority in these tests: every secret under `prefix` is a function's, with `scopes`. */
const scopesFor = (name: string) => (name.startsWith(prefix) ? scopes : undefined);
const rotationArn = "arn:aws:lambda:us-east-1:000000000000:function:rotate-key";

interface Stored {
  apiKey: string;
  keyId: string;
  scopes?: string[];
  signingSecrets?: string[];
  previousKeyId?: string;
}

describe("key rotation against the emulator and a local Secrets Manager endpoint", () => {
  let flxbl: Emulator;
  let sm: LocalSecretsManager;
  let secrets: SecretsManagerClient;
  let admin: FlxblAdmin;
  let graceMs = 0;
  /** Errors of the rotation steps Secrets Manager ran, by secret name. */
  const failures = new Map<string, string>();
  const options = (): RotationOptions => ({ secrets, admin, scopesFor, graceMs });

  /** A function secret as provisioning leaves it, set to rotate (as the Keys stack sets it). */
  async function provisioned(value: Partial<Stored> = {}, name = `${prefix}${randomUUID()}`) {
    const created = await admin.createKey(name, scopes);
    await secrets.send(
      new CreateSecretCommand({
        Name: name,
        SecretString: JSON.stringify({ apiKey: created.key, keyId: created.id, signingSecrets: ["whsec_a"], ...value }),
      }),
    );
    await secrets.send(
      new RotateSecretCommand({ SecretId: name, RotationLambdaARN: rotationArn, RotateImmediately: false }),
    );
    return { secretId: name, keyId: created.id, apiKey: created.key };
  }
  /** Starts a rotation as `aws secretsmanager rotate-secret` does, and waits for its steps to end. */
  async function rotate(secretId: string) {
    const { VersionId } = await secrets.send(new RotateSecretCommand({ SecretId: secretId }));
    await sm.rotationsSettled();
    return VersionId as string;
  }
  const current = async (secretId: string, stage = "AWSCURRENT") =>
    JSON.parse(
      (await secrets.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }))).SecretString ?? "{}",
    ) as Stored;
  const stagesOf = async (secretId: string) =>
    (await secrets.send(new DescribeSecretCommand({ SecretId: secretId }))).VersionIdsToStages ?? {};
  const liveKeyIds = async () => new Set((await admin.listKeys()).map((k) => k.id));
  const step = (secretId: string, token: string, s: RotationStep) =>
    rotateStep({ SecretId: secretId, ClientRequestToken: token, Step: s }, options());
  /** A rotation Secrets Manager began (a new, empty AWSPENDING version) without running its steps. */
  const begin = async (secretId: string) => {
    const invoker = async () => undefined;
    sm.setRotationInvoker(invoker);
    const token = await rotate(secretId);
    sm.setRotationInvoker((_arn, event) => runStep(event));
    return token;
  };
  const runStep = async (event: Parameters<typeof rotateStep>[0]) => {
    try {
      await rotateStep(event, options());
    } catch (err) {
      // Secrets Manager invokes with the ARN: `...:secret:<name>-<6 random characters>`.
      const name = event.SecretId.split(":secret:").at(-1)?.slice(0, -7) ?? event.SecretId;
      failures.set(name, `${event.Step}: ${(err as Error).message}`);
      throw err;
    }
  };

  beforeAll(async () => {
    // Key lists come in pages of 2 whatever is asked, so every lookup has to page through them all.
    flxbl = await startEmulator({ schema: appSchema, behaviour: { apiKeyListShape: "envelope", maxLimit: 2 } });
    sm = await startLocalSecretsManager({ rotationInvoker: (_arn, event) => runStep(event) });
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

  describe("started with RotateSecret", () => {
    it("replaces the key with one of the manifest's scopes, keeps signing secrets, and revokes the old key", async () => {
      const before = await provisioned();

      const token = await rotate(before.secretId);

      const after = await current(before.secretId);
      expect(failures.get(before.secretId)).toBeUndefined();
      expect((await stagesOf(before.secretId))[token]).toEqual(["AWSCURRENT"]);
      expect(after.keyId).not.toBe(before.keyId);
      expect(after.signingSecrets).toEqual(["whsec_a"]);
      const listed = await admin.listKeys();
      expect(listed.find((k) => k.id === after.keyId)?.scopes.sort()).toEqual([...scopes].sort());
      expect(listed.some((k) => k.id === before.keyId)).toBe(false);
      expect(await admin.keyWorks(after.apiKey, scopes)).toBe(true);
      expect(await admin.keyWorks(before.apiKey, scopes)).toBe(false);
    });

    it("keeps the old key working through the grace period, and revokes it after", async () => {
      const before = await provisioned();
      graceMs = 400;
      try {
        await secrets.send(new RotateSecretCommand({ SecretId: before.secretId }));
        await new Promise((r) => setTimeout(r, 250));
        const duringGrace = await admin.keyWorks(before.apiKey, scopes);
        const promotedDuringGrace = (await current(before.secretId)).keyId !== before.keyId;
        await sm.rotationsSettled();

        expect(promotedDuringGrace).toBe(true);
        expect(duringGrace).toBe(true);
        expect(await admin.keyWorks(before.apiKey, scopes)).toBe(false);
      } finally {
        graceMs = 0;
      }
    });

    it("refuses to rotate a secret that was never provisioned, naming the fix", async () => {
      const secretId = `${prefix}${randomUUID()}`;
      await secrets.send(new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify({ apiKey: "" }) }));
      await secrets.send(
        new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: rotationArn, RotateImmediately: false }),
      );

      await rotate(secretId);

      expect(failures.get(secretId)).toMatch(/createSecret: .*npm run keys -- provision/);
    });
  });

  describe("authority comes from the manifest, never from the secret", () => {
    it("mints the manifest's scopes however wide the scopes written into the secret", async () => {
      const before = await provisioned({ scopes: ["entity:*:*"] });

      await rotate(before.secretId);

      const after = await current(before.secretId);
      const minted = (await admin.listKeys()).find((k) => k.id === after.keyId);
      expect(minted?.scopes.sort()).toEqual([...scopes].sort());
      expect(after.scopes).toBeUndefined();
    });

    it("never revokes another function's key named in the secret", async () => {
      const other = await provisioned();
      const before = await provisioned();
      // Someone who may write this secret points its key ids at the other function's key.
      await secrets.send(
        new PutSecretValueCommand({
          SecretId: before.secretId,
          SecretString: JSON.stringify({
            apiKey: before.apiKey,
            keyId: other.keyId,
            previousKeyId: other.keyId,
            signingSecrets: [],
          }),
        }),
      );

      await rotate(before.secretId);

      expect(failures.get(before.secretId)).toBeUndefined();
      expect(await admin.keyWorks(other.apiKey, scopes)).toBe(true);
      expect((await liveKeyIds()).has(other.keyId)).toBe(true);
      // This secret's own superseded key is found by name and revoked.
      expect(await admin.keyWorks(before.apiKey, scopes)).toBe(false);
    });

    /** Rotates with a 400-ms grace period and, 200 ms in (promoted, not yet revoked), rewrites the current value. */
    const rewriteDuringGrace = async (secretId: string, value: (minted: Stored) => Partial<Stored>) => {
      graceMs = 400;
      try {
        await secrets.send(new RotateSecretCommand({ SecretId: secretId }));
        await new Promise((r) => setTimeout(r, 200));
        const minted = await current(secretId);
        await secrets.send(
          new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(value(minted)) }),
        );
        await sm.rotationsSettled();
        return minted;
      } finally {
        graceMs = 0;
      }
    };

    it("revokes the old key even when the secret is rewritten to name it during the grace period", async () => {
      const before = await provisioned();

      // Someone who may write the secret puts the old (perhaps leaked) key back as current.
      const minted = await rewriteDuringGrace(before.secretId, () => ({ apiKey: before.apiKey, keyId: before.keyId }));

      expect(await admin.keyWorks(before.apiKey, scopes)).toBe(false);
      expect(await admin.keyWorks(minted.apiKey, scopes)).toBe(true);
    });

    it("never revokes the key it made when the secret loses its keyId during the grace period", async () => {
      const before = await provisioned();

      // An operator rewrites the value by hand (new signing secrets) and drops the key id.
      const minted = await rewriteDuringGrace(before.secretId, (m) => ({
        apiKey: m.apiKey,
        signingSecrets: ["whsec_b"],
      }));

      expect(await admin.keyWorks(minted.apiKey, scopes)).toBe(true);
      expect(await admin.keyWorks(before.apiKey, scopes)).toBe(false);
    });

    it("refuses a secret that is no function secret of the manifest", async () => {
      const stray = await provisioned({}, `someone-else/test/${randomUUID()}`);

      await rotate(stray.secretId);

      expect(failures.get(stray.secretId)).toMatch(/no function secret of this app's manifest/);
      expect(await admin.keyWorks(stray.apiKey, scopes)).toBe(true);
    });
  });

  describe("the checks of AWS's rotation template", () => {
    it("refuses a secret whose rotation is not enabled", async () => {
      const created = await admin.createKey(`${prefix}off`, scopes);
      const secretId = `${prefix}${randomUUID()}`;
      await secrets.send(
        new CreateSecretCommand({
          Name: secretId,
          SecretString: JSON.stringify({ apiKey: created.key, keyId: created.id }),
        }),
      );

      await expect(step(secretId, randomUUID(), "createSecret")).rejects.toThrow(/not enabled for rotation/);
    });

    it("refuses a token that is no version of the secret", async () => {
      const { secretId } = await provisioned();

      await expect(step(secretId, randomUUID(), "createSecret")).rejects.toThrow(/has no version/);
    });

    it("does nothing for a token that is already AWSCURRENT", async () => {
      const { secretId } = await provisioned();
      const currentToken = Object.entries(await stagesOf(secretId)).find(([, s]) => s.includes("AWSCURRENT"))?.[0];
      const keysBefore = (await admin.listKeys()).length;

      for (const s of ["createSecret", "setSecret", "testSecret", "finishSecret"] as const)
        await step(secretId, currentToken as string, s);

      expect((await admin.listKeys()).length).toBe(keysBefore);
      expect(await stagesOf(secretId)).toEqual({ [currentToken as string]: ["AWSCURRENT"] });
    });

    it("never rolls the secret back to an AWSPREVIOUS version on finishSecret", async () => {
      const before = await provisioned();
      await rotate(before.secretId);
      const stages = await stagesOf(before.secretId);
      const previous = Object.entries(stages).find(([, s]) => s.includes("AWSPREVIOUS"))?.[0] as string;
      const promoted = await current(before.secretId);

      await expect(step(before.secretId, previous, "finishSecret")).rejects.toThrow(/not AWSPENDING/);

      expect(await stagesOf(before.secretId)).toEqual(stages);
      expect((await current(before.secretId)).keyId).toBe(promoted.keyId);
    });

    it("creates one pending key however often createSecret is retried", async () => {
      const { secretId } = await provisioned();
      const token = await begin(secretId);
      const keysBefore = (await admin.listKeys()).length;

      await step(secretId, token, "createSecret");
      await step(secretId, token, "createSecret");
      await step(secretId, token, "createSecret");

      expect((await admin.listKeys()).length).toBe(keysBefore + 1);
      expect((await current(secretId, "AWSPENDING")).keyId).toBeDefined();
    });

    it("revokes a key an interrupted createSecret left behind before making the next", async () => {
      const { secretId } = await provisioned();
      const token = await begin(secretId);
      const orphan = await admin.createKey(`${secretId}@${token}`, scopes);

      await step(secretId, token, "createSecret");

      expect((await liveKeyIds()).has(orphan.id)).toBe(false);
      expect((await current(secretId, "AWSPENDING")).keyId).not.toBe(orphan.id);
    });

    it("fails testSecret and leaves AWSCURRENT untouched when the new key is refused", async () => {
      const before = await provisioned();
      const token = await begin(before.secretId);
      await step(before.secretId, token, "createSecret");
      await admin.revokeKey((await current(before.secretId, "AWSPENDING")).keyId);

      await expect(step(before.secretId, token, "testSecret")).rejects.toThrow(/AWSCURRENT stays/);

      expect((await current(before.secretId)).keyId).toBe(before.keyId);
      expect(await admin.keyWorks(before.apiKey, scopes)).toBe(true);
    });

    it("fails testSecret when the new key's scopes differ from the manifest's", async () => {
      const before = await provisioned();
      const token = await begin(before.secretId);
      // A pending version whose key (under this secret's name) has wider scopes than the manifest's.
      const wide = await admin.createKey(`${before.secretId}@${token}`, ["entity:*:*"]);
      await secrets.send(
        new PutSecretValueCommand({
          SecretId: before.secretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify({ apiKey: wide.key, keyId: wide.id }),
          VersionStages: ["AWSPENDING"],
        }),
      );

      await expect(step(before.secretId, token, "testSecret")).rejects.toThrow(/not the manifest's/);
      expect((await current(before.secretId)).keyId).toBe(before.keyId);
    });

    it("fails testSecret when the new key is not listed under the secret's name", async () => {
      const before = await provisioned();
      const other = await provisioned();
      const token = await begin(before.secretId);
      await secrets.send(
        new PutSecretValueCommand({
          SecretId: before.secretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify({ apiKey: other.apiKey, keyId: other.keyId }),
          VersionStages: ["AWSPENDING"],
        }),
      );

      await expect(step(before.secretId, token, "testSecret")).rejects.toThrow(/not listed under its name/);
    });

    it("completes a revocation a repeated finishSecret finds undone, and changes no label", async () => {
      const before = await provisioned();
      const token = await begin(before.secretId);
      for (const s of ["createSecret", "setSecret", "testSecret"] as const) await step(before.secretId, token, s);
      // What finishSecret does before its grace wait, then the function times out.
      const stages = await stagesOf(before.secretId);
      const oldVersion = Object.entries(stages).find(([, s]) => s.includes("AWSCURRENT"))?.[0] as string;
      await secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId: before.secretId,
          VersionStage: "AWSCURRENT",
          MoveToVersionId: token,
          RemoveFromVersionId: oldVersion,
        }),
      );
      const afterPromotion = await stagesOf(before.secretId);

      await step(before.secretId, token, "finishSecret");

      expect(await stagesOf(before.secretId)).toEqual(afterPromotion);
      expect(await admin.keyWorks(before.apiKey, scopes)).toBe(false);
    });
  });

  it("keeps rotations apart: RotateSecret while one is unfinished answers InvalidRequestException", async () => {
    const { secretId } = await provisioned();
    await begin(secretId);

    await expect(secrets.send(new RotateSecretCommand({ SecretId: secretId }))).rejects.toMatchObject({
      name: "InvalidRequestException",
    });
    await sm.rotationsSettled();
  });
});
