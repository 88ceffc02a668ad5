import { setTimeout as sleep } from "node:timers/promises";
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { contractDefaults } from "../contract.js";
import { type FlxblAdmin, keyMatches } from "./admin.js";

/**
 * The four steps of Secrets Manager's rotation protocol, in order.
 *
 * @example
 * ```ts
 * async function rotate(token: string) { // the version RotateSecret made
 *   for (const step of rotationSteps) await rotateStep({ SecretId: secretId, ClientRequestToken: token, Step: step }, { secrets, admin, scopesFor });
 * }
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
 *   ClientRequestToken: "9b2c7e0a-4f7d-4c1e-8a55-3f0d2b6c1e90", // the version RotateSecret made
 *   Step: "createSecret",
 * };
 * await rotateStep(event, { secrets, admin, scopesFor });
 * ```
 */
export interface RotationEvent {
  SecretId: string;
  ClientRequestToken: string;
  Step: RotationStep;
}

/** A function secret as provisioning and rotation write it (`keyId` names the key in FLXBL). */
interface StoredKey {
  apiKey: string;
  keyId?: string;
  signingSecrets?: string[];
}

/**
 * Where rotation takes its authority from: the manifest, never the secret being rotated. Given a
 * secret's name (as Secrets Manager reports it), the scopes its function's key must have, or
 * undefined when the secret is no function secret of this app (rotation then refuses it).
 *
 * @example
 * ```ts
 * const scopesFor: ScopeAuthority = (secretName) =>
 *   manifest.find((spec) => functionSecretName({ app: appName, stage: "prod" }, spec.name) === secretName)?.scopes;
 * ```
 */
export type ScopeAuthority = (secretName: string) => readonly string[] | undefined;

/**
 * How to rotate.
 *
 * @example
 * ```ts
 * import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
 *
 * const adminSecret = secretLoader({ secretId: adminSecretName({ app: appName, stage: "prod" }) });
 * const options: RotationOptions = {
 *   secrets: new SecretsManagerClient({}),
 *   admin: new FlxblAdmin({ baseUrl: env.FLXBL_URL, adminKey: (await adminSecret.get()).apiKey }),
 *   scopesFor: (secretName) => (secretName === "flxbl-lambda/prod/payments-webhook" ? ["entity:Order:read"] : undefined),
 *   graceMs: 10 * 60_000,
 *   log: (message, attributes) => logger.info(message, attributes ?? {}),
 * };
 * ```
 */
export interface RotationOptions {
  secrets: SecretsManagerClient;
  admin: FlxblAdmin;
  /** The manifest's scopes per function secret: the only source of a new key's scopes. */
  scopesFor: ScopeAuthority;
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
 * await rotateStep({ SecretId: secretId, ClientRequestToken: "no-such-version", Step: "testSecret" }, { secrets, admin, scopesFor });
 * // throws RotationError: Secret <secretId> has no version no-such-version to rotate
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
  let value: Partial<StoredKey> = {};
  try {
    const parsed: unknown = JSON.parse(out.SecretString ?? "{}");
    if (typeof parsed === "object" && parsed !== null) value = parsed as Partial<StoredKey>;
  } catch {
    // Not JSON (a bare key, or garbage): no key id, no signing secrets to carry over.
  }
  return { versionId: out.VersionId as string, value };
}

/**
 * Whether a FLXBL key was made for this secret: provisioning names it the secret, rotation
 * `<secret>@<token>`. Rotation revokes only keys this says belong to the secret it rotates.
 *
 * @example
 * ```ts
 * keyBelongsTo("flxbl-lambda/prod/payments-webhook@2f1c", "flxbl-lambda/prod/payments-webhook"); // true
 * keyBelongsTo("flxbl-lambda/prod/payments-webhook-v2", "flxbl-lambda/prod/payments-webhook"); // false
 * ```
 */
export function keyBelongsTo(keyName: string, secretName: string): boolean {
  return keyName === secretName || keyName.startsWith(`${secretName}@`);
}

const sameScopes = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join(" ") === [...b].sort().join(" ");

/**
 * Runs one step of Secrets Manager's rotation protocol for a function's FLXBL key, with the
 * checks of AWS's rotation template first: rotation is enabled on the secret, the token is one
 * of its versions, a version already `AWSCURRENT` is not rotated again, and any other version
 * must be `AWSPENDING` (so a stale or `AWSPREVIOUS` token can never roll the secret back).
 * Each step is idempotent, since Secrets Manager retries steps:
 * - `createSecret`: a new FLXBL key with the scopes the manifest gives this secret (never the
 *   scopes or ids stored in it), stored as `AWSPENDING`; a key left by an interrupted attempt with
 *   this token is revoked first;
 * - `setSecret`: nothing (a FLXBL key is live when created);
 * - `testSecret`: the new key must be listed under this secret's name with exactly the
 *   manifest's scopes, and answer a read its scopes allow with a 2xx; otherwise the rotation
 *   fails and `AWSCURRENT` stays as it is;
 * - `finishSecret`: moves `AWSCURRENT` to the new version (and `AWSPENDING` off it), waits the
 *   grace period, then revokes the secret's other keys, found by name in the full key list (so
 *   a key of another secret can never be revoked), keeping the key this rotation made. Repeated
 *   for a version already `AWSCURRENT`, it changes no label and only completes that revocation.
 *
 * @example
 * ```ts
 * export const handler = (event: RotationEvent) => rotateStep(event, { secrets, admin, scopesFor });
 * ```
 */
export async function rotateStep(event: RotationEvent, options: RotationOptions): Promise<void> {
  const { secrets, admin } = options;
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  const log = options.log ?? (() => undefined);
  if (!(rotationSteps as readonly string[]).includes(step)) throw new RotationError(`Unknown rotation step ${step}`);
  const described = await secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  const name = described.Name ?? secretId;
  if (!described.RotationEnabled) throw new RotationError(`Secret ${name} is not enabled for rotation`);
  const scopes = options.scopesFor(name);
  if (!scopes || scopes.length === 0)
    throw new RotationError(`Secret ${name} is no function secret of this app's manifest; refusing to rotate it`);
  const stages = described.VersionIdsToStages?.[token];
  if (!stages) throw new RotationError(`Secret ${name} has no version ${token} to rotate`);
  if (stages.includes("AWSCURRENT")) {
    log("version already AWSCURRENT; no label changes", { secretId: name, step });
    if (step === "finishSecret") await revokeSuperseded(secretId, name, token, options);
    return;
  }
  if (!stages.includes("AWSPENDING"))
    throw new RotationError(`Secret ${name} version ${token} is not AWSPENDING; refusing to rotate to it`);

  switch (step) {
    case "createSecret": {
      const current = await read(secrets, secretId, "AWSCURRENT");
      try {
        await read(secrets, secretId, "AWSPENDING", token);
        log("pending version exists; nothing to create", { secretId: name });
        return;
      } catch (err) {
        if ((err as Error).name !== "ResourceNotFoundException") throw err;
      }
      if (typeof current.value.apiKey !== "string" || current.value.apiKey === "")
        throw new RotationError(`Secret ${name} holds no FLXBL key yet: run \`npm run keys -- provision\` first`);
      const keyName = `${name}@${token}`;
      for (const orphan of (await admin.listKeys()).filter((k) => k.name === keyName)) await admin.revokeKey(orphan.id);
      const created = await admin.createKey(keyName, scopes);
      const next: StoredKey = { apiKey: created.key, keyId: created.id };
      if (Array.isArray(current.value.signingSecrets)) next.signingSecrets = current.value.signingSecrets;
      await secrets.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify(next),
          VersionStages: ["AWSPENDING"],
        }),
      );
      log("created a new FLXBL key", { secretId: name, keyId: created.id, scopes });
      return;
    }
    case "setSecret":
      // A FLXBL key is live from creation: nothing to set on the service side.
      return;
    case "testSecret": {
      const pending = await read(secrets, secretId, "AWSPENDING", token);
      const { apiKey, keyId } = pending.value;
      if (typeof apiKey !== "string" || !keyId)
        throw new RotationError(`The pending version of ${name} holds no key; AWSCURRENT stays as it is`);
      const listed = (await admin.listKeys()).find((k) => k.id === keyId);
      if (!listed || !keyBelongsTo(listed.name, name) || !keyMatches(listed, apiKey))
        throw new RotationError(`The new FLXBL key of ${name} is not listed under its name; AWSCURRENT stays as it is`);
      if (!sameScopes(listed.scopes, scopes))
        throw new RotationError(
          `The new FLXBL key of ${name} has scopes [${listed.scopes.join(", ")}], not the manifest's [${scopes.join(", ")}]; AWSCURRENT stays as it is`,
        );
      const probe = await admin.probeKey(apiKey, scopes);
      const passed = probe.readable ? probe.status >= 200 && probe.status < 300 : probe.status === 403;
      if (!passed)
        throw new RotationError(
          `The new FLXBL key of ${name} is refused (POST ${probe.path} answered ${probe.status}); AWSCURRENT stays as it is`,
        );
      log("the new key works", {
        secretId: name,
        keyId,
        checked: probe.readable ? "read" : "accepted (no read scope)",
      });
      return;
    }
    case "finishSecret": {
      const currentVersion = Object.entries(described.VersionIdsToStages ?? {}).find(([, s]) =>
        s.includes("AWSCURRENT"),
      )?.[0];
      await secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: "AWSCURRENT",
          MoveToVersionId: token,
          ...(currentVersion ? { RemoveFromVersionId: currentVersion } : {}),
        }),
      );
      await secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: "AWSPENDING",
          RemoveFromVersionId: token,
        }),
      );
      log("promoted the new key", { secretId: name });
      await revokeSuperseded(secretId, name, token, options);
      return;
    }
  }
}

/**
 * After the grace period, revokes the secret's keys other than the one this rotation made (named
 * `<secret>@<token>`) and, if newer than it, the one `AWSCURRENT` names (a key provisioned during
 * the grace period). Keys are matched by name in the full list, so a key id written into the
 * secret can neither get another secret's key revoked nor keep an older key of this one alive;
 * if the key this rotation made is not listed, nothing is revoked.
 */
async function revokeSuperseded(
  secretId: string,
  secretName: string,
  token: string,
  options: RotationOptions,
): Promise<void> {
  const log = options.log ?? (() => undefined);
  const superseded = async () => {
    const mine = (await options.admin.listKeys()).filter((k) => keyBelongsTo(k.name, secretName));
    const minted = mine.find((k) => k.name === `${secretName}@${token}`);
    if (!minted) return undefined;
    const currentId = (await read(options.secrets, secretId, "AWSCURRENT")).value.keyId;
    const current = mine.find((k) => k.id === currentId && k.id !== minted.id);
    const keep = new Set([minted.id]);
    if (current && Date.parse(current.createdAt ?? "") > Date.parse(minted.createdAt ?? "")) keep.add(current.id);
    return mine.filter((k) => !keep.has(k.id));
  };
  const before = await superseded();
  if (!before) {
    log("the key this rotation made is not listed; revoking nothing", { secretId: secretName });
    return;
  }
  if (before.length === 0) return;
  await sleep(options.graceMs ?? contractDefaults.rotationGraceSeconds * 1000);
  // Decided again after the wait: a key provisioned meanwhile is kept.
  for (const key of (await superseded()) ?? []) {
    const revoked = await options.admin.revokeKey(key.id);
    log(revoked ? "revoked a superseded key" : "a superseded key was already revoked", {
      secretId: secretName,
      keyId: key.id,
    });
  }
}

/**
 * Starts a rotation the way `aws secretsmanager rotate-secret` does (`RotateSecret`: Secrets
 * Manager labels a new version `AWSPENDING` and invokes the rotation function's four steps), then
 * waits until that version is `AWSCURRENT` or the time is up. Used by `npm run keys -- rotate`,
 * against AWS and against the local endpoint alike.
 *
 * @example
 * ```ts
 * const { versionId } = await startRotation(secrets, "flxbl-lambda/prod/payments-webhook", { waitMs: 120_000 });
 * ```
 */
export async function startRotation(
  secrets: SecretsManagerClient,
  secretId: string,
  options: { waitMs?: number; pollMs?: number } = {},
): Promise<{ versionId: string; promoted: boolean }> {
  const out = await secrets.send(new RotateSecretCommand({ SecretId: secretId, RotateImmediately: true }));
  const versionId = out.VersionId as string;
  const until = Date.now() + (options.waitMs ?? 120_000);
  while (Date.now() < until) {
    const described = await secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
    if (described.VersionIdsToStages?.[versionId]?.includes("AWSCURRENT")) return { versionId, promoted: true };
    await sleep(options.pollMs ?? 1_000);
  }
  return { versionId, promoted: false };
}
