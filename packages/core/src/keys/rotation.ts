import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import type { FlxblAdmin } from "./admin.js";

/**
 * The four steps of Secrets Manager's rotation protocol, in order.
 *
 * @example
 * ```ts
 * for (const step of rotationSteps) await rotateStep({ SecretId: secretId, ClientRequestToken: token, Step: step }, options);
 * ```
 */
export const rotationSteps = ["createSecret", "setSecret", "testSecret", "finishSecret"] as const;

/**
 * One of {@link rotationSteps}: the `Step` of a {@link RotationEvent}.
 *
 * @example
 * ```ts
 * const step: RotationStep = "testSecret";
 * ```
 */
export type RotationStep = (typeof rotationSteps)[number];

/**
 * The event Secrets Manager sends a rotation function.
 *
 * @example
 * ```ts
 * const event: RotationEvent = {
 *   SecretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:flxbl-lambda/prod/payments-webhook",
 *   ClientRequestToken: randomUUID(),
 *   Step: "createSecret",
 * };
 * await rotateStep(event, { secrets, admin });
 * ```
 */
export interface RotationEvent {
  SecretId: string;
  ClientRequestToken: string;
  Step: RotationStep;
}

/** A function secret as provisioning writes it; rotation needs `scopes` and `keyId`. */
interface StoredKey {
  apiKey: string;
  keyId?: string;
  scopes?: string[];
  signingSecrets?: string[];
  previousKeyId?: string;
}

/**
 * How to rotate.
 *
 * @example
 * ```ts
 * const options: RotationOptions = {
 *   secrets: new SecretsManagerClient({}),
 *   admin: new FlxblAdmin({ baseUrl: env.FLXBL_URL, adminKey }),
 *   graceMs: 10 * 60_000,
 *   log: (message, attributes) => logger.info(message, attributes ?? {}),
 * };
 * ```
 */
export interface RotationOptions {
  secrets: SecretsManagerClient;
  admin: FlxblAdmin;
  /**
   * How long the superseded key keeps working after the new one is promoted. Longer than the
   * functions' secret cache TTL, so no warm container is left holding a revoked key.
   * @default 360000 (the 5-minute default TTL plus a minute)
   */
  graceMs?: number;
  /** Progress lines, with secret and key ids (never a key). @default no logging */
  log?: (message: string, attributes?: Record<string, unknown>) => void;
}

/**
 * A rotation step that cannot go on; Secrets Manager retries or marks the rotation failed.
 *
 * @example
 * ```ts
 * await rotateStep({ SecretId: secretId, ClientRequestToken: "no-such-version", Step: "testSecret" }, options);
 * // throws RotationError: Secret <secretId> has no version no-such-version to rotate to
 * ```
 */
export class RotationError extends Error {
  override name = "RotationError";
}

async function read(client: SecretsManagerClient, secretId: string, stage: string, versionId?: string) {
  const out = await client.send(
    new GetSecretValueCommand({
      SecretId: secretId,
      VersionStage: stage,
      ...(versionId ? { VersionId: versionId } : {}),
    }),
  );
  return {
    versionId: out.VersionId as string,
    value: JSON.parse(out.SecretString ?? "{}") as StoredKey,
    name: out.Name ?? secretId,
  };
}

/**
 * Runs one step of Secrets Manager's rotation protocol for a function's FLXBL key. Each step is
 * idempotent, since Secrets Manager retries steps:
 * - `createSecret`: a new FLXBL key with the same scopes, stored as `AWSPENDING` (a key left by a
 *   failed earlier attempt with this token is revoked first);
 * - `setSecret`: nothing (a FLXBL key is live when created);
 * - `testSecret`: a real FLXBL call with the pending key; a refusal fails the rotation and
 *   leaves `AWSCURRENT` untouched;
 * - `finishSecret`: moves `AWSCURRENT` to the new version, waits the grace period, then revokes
 *   the superseded key.
 *
 * @example
 * ```ts
 * export const handler = (event: RotationEvent) => rotateStep(event, { secrets, admin });
 * ```
 */
export async function rotateStep(event: RotationEvent, options: RotationOptions): Promise<void> {
  const { secrets, admin } = options;
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  const log = options.log ?? (() => undefined);
  const described = await secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  const stages = described.VersionIdsToStages ?? {};
  // Secrets Manager labels the new version AWSPENDING before calling createSecret; the later
  // steps need the version createSecret wrote.
  if (step !== "createSecret" && !stages[token])
    throw new RotationError(`Secret ${secretId} has no version ${token} to rotate to`);

  switch (step) {
    case "createSecret": {
      try {
        await read(secrets, secretId, "AWSPENDING", token);
        log("pending version exists; nothing to create", { secretId });
        return;
      } catch (err) {
        if ((err as Error).name !== "ResourceNotFoundException") throw err;
      }
      const current = await read(secrets, secretId, "AWSCURRENT");
      const scopes = current.value.scopes;
      if (!scopes?.length || !current.value.keyId)
        throw new RotationError(`Secret ${secretId} holds no keyId/scopes: run \`npm run keys -- provision\` first`);
      const keyName = `${current.name}@${token}`;
      for (const orphan of (await admin.listKeys()).filter((k) => k.name === keyName)) await admin.revokeKey(orphan.id);
      const created = await admin.createKey(keyName, scopes);
      await secrets.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify({
            ...current.value,
            apiKey: created.key,
            keyId: created.id,
            previousKeyId: current.value.keyId,
          } satisfies StoredKey),
          VersionStages: ["AWSPENDING"],
        }),
      );
      log("created a new FLXBL key", { secretId, keyId: created.id });
      return;
    }
    case "setSecret":
      // A FLXBL key is live from creation: nothing to set on the service side.
      return;
    case "testSecret": {
      const pending = await read(secrets, secretId, "AWSPENDING", token);
      if (!(await admin.keyWorks(pending.value.apiKey, pending.value.scopes ?? [])))
        throw new RotationError(`The new FLXBL key of ${secretId} is refused; AWSCURRENT stays as it is`);
      log("the new key works", { secretId, keyId: pending.value.keyId });
      return;
    }
    case "finishSecret": {
      const currentVersion = Object.entries(stages).find(([, s]) => s.includes("AWSCURRENT"))?.[0];
      if (currentVersion !== token) {
        await secrets.send(
          new UpdateSecretVersionStageCommand({
            SecretId: secretId,
            VersionStage: "AWSCURRENT",
            MoveToVersionId: token,
            ...(currentVersion ? { RemoveFromVersionId: currentVersion } : {}),
          }),
        );
        log("promoted the new key", { secretId });
      }
      const promoted = await read(secrets, secretId, "AWSCURRENT");
      const previous = promoted.value.previousKeyId;
      if (previous && previous !== promoted.value.keyId) {
        await sleep(options.graceMs ?? 360_000);
        const revoked = await admin.revokeKey(previous);
        log(revoked ? "revoked the previous key" : "the previous key was already revoked", {
          secretId,
          keyId: previous,
        });
      }
      return;
    }
  }
}

/**
 * Rotates a secret now, doing what Secrets Manager does: a new version token, then the four
 * steps in order. For `npm run keys -- rotate` and tests, where no Secrets Manager drives it.
 *
 * @example
 * ```ts
 * await rotateNow("flxbl-lambda/local/payments-webhook", { secrets, admin, graceMs: 2000 });
 * ```
 */
export async function rotateNow(secretId: string, options: RotationOptions): Promise<void> {
  const token = randomUUID();
  for (const step of rotationSteps)
    await rotateStep({ SecretId: secretId, ClientRequestToken: token, Step: step }, options);
}
