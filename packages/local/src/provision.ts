import { randomBytes } from "node:crypto";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { FlxblAdmin, type FunctionSpec } from "@flxbl-lambda/core";

/** What a function's secret holds once provisioned. `keyId` lets tools find and revoke the key. */
export interface ProvisionedSecret {
  apiKey: string;
  keyId?: string;
  scopes?: string[];
  signingSecrets: string[];
}

/** Where keys are made and kept. */
export interface ProvisionOptions {
  manifest: readonly FunctionSpec[];
  /** FLXBL's API base and an admin key that may create, list and revoke keys. */
  flxbl: { url: string; adminKey: string };
  secrets: SecretsManagerClient;
  /** The secret a function's key lives in (`<app>/<stage>/<function>`). */
  secretName: (fn: string) => string;
  /** Prefix of key names in FLXBL, for audit (`<app>/<stage>`). */
  keyPrefix: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** What provisioning did for one function. */
export interface ProvisionResult {
  function: string;
  secretName: string;
  action: "created" | "kept" | "replaced";
  reason: string;
  keyId: string;
  signingSecrets: string[];
}

/** A new Standard Webhooks / Stripe-style signing secret: `whsec_` + 24 random bytes in base64. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

const sameScopes = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join(" ") === [...b].sort().join(" ");

/**
 * Gives every manifest function a FLXBL key with exactly its scopes, in its own secret (with
 * signing secrets for webhooks). Safe to run again: a secret that already holds a working key
 * with the right scopes is kept; a function whose scopes changed gets a new key and its old key
 * is revoked once the secret holds the new one (functions refresh on the 401 and carry on).
 *
 * @example
 * ```ts
 * const results = await provisionKeys({ manifest, flxbl, secrets, secretName: (fn) => `app/dev/${fn}`, keyPrefix: "app/dev" });
 * ```
 */
export async function provisionKeys(options: ProvisionOptions): Promise<ProvisionResult[]> {
  const admin = new FlxblAdmin({ baseUrl: options.flxbl.url, adminKey: options.flxbl.adminKey, fetch: options.fetch });
  const listed = await admin.listKeys();
  const results: ProvisionResult[] = [];
  for (const spec of options.manifest) {
    const name = options.secretName(spec.name);
    const current = await readSecret(options.secrets, name);
    const signingSecrets =
      spec.trigger.kind === "http"
        ? current?.signingSecrets.length
          ? current.signingSecrets
          : [newSigningSecret()]
        : [];
    const existing = current?.keyId ? listed.find((k) => k.id === current.keyId) : undefined;
    const works =
      existing !== undefined && current !== undefined && (await admin.keyWorks(current.apiKey, spec.scopes));
    if (existing && works && sameScopes(existing.scopes, spec.scopes)) {
      // Compared by value: a job's `[]` is a new array each run, and rewriting its secret on every
      // start would add a version (and move AWSPREVIOUS) for nothing.
      if (current && signingSecrets.join(" ") !== current.signingSecrets.join(" "))
        await writeSecret(options.secrets, name, { ...current, signingSecrets }, true);
      results.push({
        function: spec.name,
        secretName: name,
        action: "kept",
        reason: "working key with the manifest's scopes",
        keyId: existing.id,
        signingSecrets,
      });
      continue;
    }
    const created = await admin.createKey(`${options.keyPrefix}/${spec.name}`, spec.scopes);
    await writeSecret(
      options.secrets,
      name,
      { apiKey: created.key, keyId: created.id, scopes: [...spec.scopes], signingSecrets },
      current !== undefined,
    );
    const reason = !current
      ? "no secret yet"
      : !current.keyId || !existing
        ? "the secret's key is unknown to FLXBL or revoked"
        : !works
          ? "the secret's key is refused"
          : "the manifest's scopes changed";
    if (existing) await admin.revokeKey(existing.id);
    results.push({
      function: spec.name,
      secretName: name,
      action: current ? "replaced" : "created",
      reason,
      keyId: created.id,
      signingSecrets,
    });
  }
  return results;
}

/** A function's secret as stored, or undefined when it does not exist or holds no key yet. */
export async function readSecret(client: SecretsManagerClient, name: string): Promise<ProvisionedSecret | undefined> {
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: name }));
    const parsed: unknown = JSON.parse(out.SecretString ?? "{}");
    // Valid JSON that is no object (`null`, `42`) is garbage too: replaced, not a crash at start.
    const value = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Partial<ProvisionedSecret>;
    const signingSecrets = Array.isArray(value.signingSecrets)
      ? value.signingSecrets.filter((s): s is string => typeof s === "string")
      : [];
    if (typeof value.apiKey !== "string" || value.apiKey === "") return { apiKey: "", signingSecrets };
    return { ...value, signingSecrets } as ProvisionedSecret;
  } catch (err) {
    if ((err as Error).name === "ResourceNotFoundException") return undefined;
    if (err instanceof SyntaxError) return { apiKey: "", signingSecrets: [] };
    throw err;
  }
}

async function writeSecret(client: SecretsManagerClient, name: string, value: ProvisionedSecret, exists: boolean) {
  const SecretString = JSON.stringify(value);
  if (exists) await client.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
  else await client.send(new CreateSecretCommand({ Name: name, SecretString }));
}
