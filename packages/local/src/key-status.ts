import { ListSecretVersionIdsCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type FlxblAdmin, type FunctionSpec, keyMatches } from "@flxbl-lambda/core";
import { isScheduledForDeletion, readSecret } from "@flxbl-lambda/provisioning";

/** A function's key as `npm run keys -- status` and the console report it; never the key itself. */
export interface KeyStatus {
  function: string;
  secretName: string;
  /** Whether the function's secret exists (`scheduled for deletion`: someone deleted it). */
  secret: "yes" | "no" | "scheduled for deletion";
  hasKey: boolean;
  /** FLXBL accepts the key (a one-record query its scopes allow). */
  works: boolean;
  /** The key FLXBL lists under the secret's key id has exactly the manifest's scopes. */
  scopes: "match" | "differ" | "unknown key";
  /** The scopes FLXBL lists for the key, when they differ from the manifest's. */
  flxblScopes?: string[];
  /** The FLXBL key id the secret names (an id, not a secret). */
  keyId?: string;
  /** The secret's AWSCURRENT version and when it was made (ISO 8601). */
  versionId?: string;
  versionCreated?: string;
  /** Every check passed. */
  healthy: boolean;
}

/**
 * Checks each function's key: its secret, whether FLXBL accepts the key, and whether the key
 * FLXBL lists under the secret's key id has the manifest's scopes. One key list for all.
 */
export async function keyStatuses(
  specs: readonly Pick<FunctionSpec, "name" | "scopes">[],
  options: { secrets: SecretsManagerClient; admin: FlxblAdmin; secretName: (fn: string) => string },
): Promise<KeyStatus[]> {
  const listed = await options.admin.listKeys();
  const statuses: KeyStatus[] = [];
  for (const spec of specs) {
    const secretName = options.secretName(spec.name);
    const none = { function: spec.name, secretName, hasKey: false, works: false, healthy: false } as const;
    const stored = await readSecret(options.secrets, secretName).catch((err: unknown) => {
      if (!isScheduledForDeletion(err)) throw err;
      return "scheduled for deletion" as const;
    });
    if (stored === "scheduled for deletion" || !stored) {
      statuses.push({ ...none, secret: stored ? "scheduled for deletion" : "no", scopes: "unknown key" });
      continue;
    }
    const hasKey = Boolean(stored.apiKey);
    const works = hasKey ? await options.admin.keyWorks(stored.apiKey, spec.scopes) : false;
    // The listed key counts only if it is the one the secret holds (its prefix, when FLXBL shows it).
    const named = stored.keyId ? listed.find((k) => k.id === stored.keyId) : undefined;
    const live = named && keyMatches(named, stored.apiKey) ? named : undefined;
    const same = live && [...live.scopes].sort().join(" ") === [...spec.scopes].sort().join(" ");
    const scopes = !live ? "unknown key" : same ? "match" : "differ";
    statuses.push({
      function: spec.name,
      secretName,
      secret: "yes",
      hasKey,
      works,
      scopes,
      ...(live && !same ? { flxblScopes: live.scopes } : {}),
      ...(stored.keyId ? { keyId: stored.keyId } : {}),
      ...(await currentVersion(options.secrets, secretName)),
      healthy: hasKey && works && scopes === "match",
    });
  }
  return statuses;
}

/** The secret's AWSCURRENT version id and creation time; nothing when it cannot be listed. */
async function currentVersion(
  secrets: SecretsManagerClient,
  secretName: string,
): Promise<{ versionId?: string; versionCreated?: string }> {
  try {
    const out = await secrets.send(new ListSecretVersionIdsCommand({ SecretId: secretName }));
    const current = out.Versions?.find((v) => v.VersionStages?.includes("AWSCURRENT"));
    if (!current?.VersionId) return {};
    return { versionId: current.VersionId, versionCreated: current.CreatedDate?.toISOString() };
  } catch {
    return {};
  }
}
