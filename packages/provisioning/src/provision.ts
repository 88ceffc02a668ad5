import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import {
  FlxblAdmin,
  type FunctionSpec,
  keyBelongsTo,
  keyMatches,
  minSigningSecretBytes,
  signatureScheme,
  signingSecretProblem,
  type WebhookSpec,
} from "@flxbl-lambda/core";

/**
 * What a function's secret holds once provisioned. `keyId` lets tools find and revoke the key.
 * No scopes: the manifest is their only authority. Secrets written by older versions carry a
 * `scopes` field; it is read past, never trusted, and dropped when the secret is next written.
 */
export interface ProvisionedSecret {
  apiKey: string;
  keyId?: string;
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
  /**
   * What to do with a function's secret that is scheduled for deletion (DeleteSecret, within its
   * recovery window; it can be neither read nor written, nor created anew, until then):
   * `"refuse"` changes nothing and throws {@link SecretScheduledForDeletionError} naming each one
   * and how to restore it; `"restore"` restores it (`RestoreSecret`) and provisions it as usual
   * (a key that no longer works is replaced). `npm start` restores: its secrets are its own, and a
   * developer who deleted one wants a working function back. Against AWS, refuse: someone deleted
   * it on purpose. @default "refuse"
   */
  scheduledForDeletion?: "refuse" | "restore";
}

/** A function's secret found scheduled for deletion. */
export interface ScheduledSecret {
  function: string;
  secretName: string;
  /** When DeleteSecret was called (DescribeSecret's `DeletedDate`), when Secrets Manager says. */
  deletedDate: Date | undefined;
}

/**
 * Provisioning found function secrets scheduled for deletion and changed nothing: such a secret
 * can be neither read nor written until it is restored, nor created anew until its recovery window
 * ends. The message names each, and the two ways on.
 *
 * @example
 * ```ts
 * const flxbl = { url: "https://api.flxbl.dev/api/v1", adminKey: process.env.FLXBL_ADMIN_KEY ?? "" };
 * await provisionKeys({ manifest, flxbl, secrets, secretName: (fn) => `app/prod/${fn}`, keyPrefix: "app/prod" }).catch((err) => {
 *   if (err instanceof SecretScheduledForDeletionError) console.error(err.secrets.map((s) => s.secretName).join("\n"));
 *   throw err;
 * });
 * ```
 */
export class SecretScheduledForDeletionError extends Error {
  override name = "SecretScheduledForDeletionError";
  constructor(readonly secrets: readonly ScheduledSecret[]) {
    super(
      [
        "Refusing to provision: function secrets are scheduled for deletion (nothing was changed)",
        ...secrets.map(
          (s) =>
            `  ${s.function}: secret ${s.secretName} was scheduled for deletion${s.deletedDate ? ` on ${s.deletedDate.toISOString()}` : ""}`,
        ),
        "Fix, for each: restore it and provision again, which keeps its key if that still works (and its signing secrets):",
        ...secrets.map((s) => `  aws secretsmanager restore-secret --secret-id ${s.secretName}`),
        "or, to start that function afresh, delete it for good and provision again, which makes a new key and, for a webhook, a new signing secret to give its sender:",
        ...secrets.map(
          (s) => `  aws secretsmanager delete-secret --secret-id ${s.secretName} --force-delete-without-recovery`,
        ),
      ].join("\n"),
    );
  }
}

/** AWS's refusal of any read or write of a secret scheduled for deletion. */
export const isScheduledForDeletion = (err: unknown): boolean =>
  (err as Error)?.name === "InvalidRequestException" &&
  /marked for deletion|scheduled for deletion/i.test((err as Error).message);

/** What provisioning did for one function. */
export interface ProvisionResult {
  function: string;
  secretName: string;
  action: "created" | "kept" | "replaced";
  reason: string;
  keyId: string;
  signingSecrets: string[];
}

/**
 * A new signing secret of the shape `scheme`'s senders use (by default Standard Webhooks'
 * `whsec_` + 32 random bytes in base64); each scheme makes its own (`newSecret`).
 */
export function newSigningSecret(scheme = "standard-webhooks"): string {
  return signatureScheme(scheme).newSecret();
}

/**
 * Provisioning found signing secrets too short to trust in webhooks' secrets, and changed
 * nothing. Each problem names the function, the secret and the signing secret's place in
 * `signingSecrets`, never its value.
 *
 * @example
 * ```ts
 * const flxbl = { url: "https://api.flxbl.dev/api/v1", adminKey: process.env.FLXBL_ADMIN_KEY ?? "" };
 * await provisionKeys({ manifest, flxbl, secrets, secretName: (fn) => `app/dev/${fn}`, keyPrefix: "app/dev" }).catch((err) => {
 *   if (err instanceof SigningSecretRefusedError) console.error(err.problems.join("\n"));
 *   throw err;
 * });
 * ```
 */
export class SigningSecretRefusedError extends Error {
  override name = "SigningSecretRefusedError";
  constructor(readonly problems: readonly string[]) {
    super(
      [
        "Refusing to provision: signing secrets too short to trust (nothing was changed)",
        ...problems.map((problem) => `  ${problem}`),
        `Fix: replace each with a secret of at least ${minSigningSecretBytes} bytes of key (roll it at the sender and put the new one in signingSecrets), or delete it from signingSecrets and provision again, which makes a new one to give the sender.`,
      ].join("\n"),
    );
  }
}

const isWebhook = (spec: FunctionSpec): spec is WebhookSpec => spec.trigger.kind === "http";

const sameScopes = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join(" ") === [...b].sort().join(" ");

/**
 * Gives every manifest function a FLXBL key with exactly its scopes, in its own secret (with
 * signing secrets for webhooks). Safe to run again: a secret that already holds a working key
 * with the right scopes is kept; a function whose scopes changed gets a new key and its old key
 * is revoked once the secret holds the new one (functions refresh on the 401 and carry on).
 *
 * What a secret says is checked, not trusted: its `keyId` counts only when FLXBL lists that key
 * under this function's name (so a secret naming another function's key can never get that key
 * kept or revoked), and any `scopes` it holds are ignored. Every secret is read first; when a
 * webhook's secret holds a signing secret shorter than {@link minSigningSecretBytes} bytes of key
 * for its scheme, nothing is changed and {@link SigningSecretRefusedError} names them all.
 *
 * @example
 * ```ts
 * const flxbl = { url: "https://api.flxbl.dev/api/v1", adminKey: process.env.FLXBL_ADMIN_KEY ?? "" };
 * const results = await provisionKeys({ manifest, flxbl, secrets, secretName: (fn) => `app/dev/${fn}`, keyPrefix: "app/dev" });
 * ```
 */
export async function provisionKeys(options: ProvisionOptions): Promise<ProvisionResult[]> {
  const stored = new Map<string, ProvisionedSecret | undefined>();
  const refused: string[] = [];
  const scheduled: ScheduledSecret[] = [];
  const restored = new Set<string>();
  for (const spec of options.manifest) {
    const name = options.secretName(spec.name);
    let current: ProvisionedSecret | undefined;
    try {
      current = await readSecret(options.secrets, name);
    } catch (err) {
      if (!isScheduledForDeletion(err)) throw err;
      if (options.scheduledForDeletion !== "restore") {
        const described = await options.secrets.send(new DescribeSecretCommand({ SecretId: name }));
        scheduled.push({ function: spec.name, secretName: name, deletedDate: described.DeletedDate });
        continue;
      }
      await options.secrets.send(new RestoreSecretCommand({ SecretId: name }));
      restored.add(spec.name);
      current = await readSecret(options.secrets, name);
    }
    stored.set(spec.name, current);
    if (!isWebhook(spec)) continue;
    for (const [index, secret] of (current?.signingSecrets ?? []).entries()) {
      const problem = signingSecretProblem(spec.signature, secret);
      if (problem)
        refused.push(`${spec.name}: signingSecrets[${index}] in secret ${name} ${problem} (${spec.signature})`);
    }
  }
  if (scheduled.length > 0) throw new SecretScheduledForDeletionError(scheduled);
  if (refused.length > 0) throw new SigningSecretRefusedError(refused);
  const wasRestored = (fn: string, reason: string) =>
    restored.has(fn) ? `restored from scheduled deletion; ${reason}` : reason;

  const admin = new FlxblAdmin({ baseUrl: options.flxbl.url, adminKey: options.flxbl.adminKey, fetch: options.fetch });
  const listed = await admin.listKeys();
  const results: ProvisionResult[] = [];
  for (const spec of options.manifest) {
    const name = options.secretName(spec.name);
    const keyName = `${options.keyPrefix}/${spec.name}`;
    const current = stored.get(spec.name);
    const signingSecrets = isWebhook(spec)
      ? current?.signingSecrets.length
        ? current.signingSecrets
        : [newSigningSecret(spec.signature)]
      : [];
    const named = current?.keyId ? listed.find((k) => k.id === current.keyId) : undefined;
    // Provisioning names a key after its function, rotation after the secret plus `@<version>`.
    const ours = named && (keyBelongsTo(named.name, keyName) || keyBelongsTo(named.name, name)) ? named : undefined;
    // ...and it counts only if it is the key the secret holds (its listed prefix, when FLXBL shows one).
    const existing = ours && current && keyMatches(ours, current.apiKey) ? ours : undefined;
    const works =
      existing !== undefined && current !== undefined && (await admin.keyWorks(current.apiKey, spec.scopes));
    if (existing && current && works && sameScopes(existing.scopes, spec.scopes)) {
      // Compared by value: a job's `[]` is a new array each run, and rewriting its secret on every
      // start would add a version (and move AWSPREVIOUS) for nothing.
      if (signingSecrets.join(" ") !== current.signingSecrets.join(" "))
        await writeSecret(options.secrets, name, { ...current, signingSecrets }, true);
      results.push({
        function: spec.name,
        secretName: name,
        action: "kept",
        reason: wasRestored(spec.name, "working key with the manifest's scopes"),
        keyId: existing.id,
        signingSecrets,
      });
      continue;
    }
    const created = await admin.createKey(keyName, spec.scopes);
    await writeSecret(
      options.secrets,
      name,
      { apiKey: created.key, keyId: created.id, signingSecrets },
      current !== undefined,
    );
    const reason = !current
      ? "first provisioning: the function had no secret"
      : named && !ours
        ? "the secret's keyId names a key that is not this function's"
        : ours && !existing
          ? "the secret's key is not the key its keyId names"
          : !current.keyId || !existing
            ? "the secret's key is unknown to FLXBL or revoked"
            : !works
              ? "the secret's key is refused"
              : "the manifest's scopes changed";
    // This function's own superseded key goes; another function's key named in the secret stays.
    if (ours) await admin.revokeKey(ours.id);
    results.push({
      function: spec.name,
      secretName: name,
      action: current ? "replaced" : "created",
      reason: wasRestored(spec.name, reason),
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
    // Only the fields provisioning and rotation write: an old secret's `scopes` is left behind.
    return {
      apiKey: value.apiKey,
      ...(typeof value.keyId === "string" && value.keyId !== "" ? { keyId: value.keyId } : {}),
      signingSecrets,
    };
  } catch (err) {
    if ((err as Error).name === "ResourceNotFoundException") return undefined;
    if (err instanceof SyntaxError) return { apiKey: "", signingSecrets: [] };
    throw err;
  }
}

async function writeSecret(client: SecretsManagerClient, name: string, value: ProvisionedSecret, exists: boolean) {
  // Field by field, so nothing but these ever reaches a secret (no scopes: the manifest has them).
  const { apiKey, keyId, signingSecrets } = value;
  const SecretString = JSON.stringify({ apiKey, ...(keyId ? { keyId } : {}), signingSecrets });
  if (exists) await client.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
  else await client.send(new CreateSecretCommand({ Name: name, SecretString }));
}
