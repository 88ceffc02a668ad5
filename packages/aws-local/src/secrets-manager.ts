import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isOwnLoopbackHost, writePrivateFile } from "./private-io.js";

/**
 * A local AWS Secrets Manager endpoint: the JSON 1.1 protocol the AWS SDK speaks, for the calls
 * our functions and key tools make. Point the unchanged SDK at it with
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
 *
 * Written here because no maintained pure-JS Secrets Manager emulator exists on npm (the usual
 * one, LocalStack, needs Docker). It keeps version stages (`AWSCURRENT`, `AWSPENDING`,
 * `AWSPREVIOUS`) as Secrets Manager does, schedules deletions with a recovery window
 * (`RestoreSecret` cancels them), lists with filters and pages, refuses unsigned requests, and can
 * deny calls by caller access key id, read from the SigV4 `Authorization` header, to stand in for
 * IAM. Where it differs from AWS: the package README.
 */
export interface LocalSecretsManagerOptions {
  /** @default 0 (a free port) */
  port?: number;
  /**
   * The address to listen on. Whatever it is, requests are answered only when their `Host` names
   * loopback (`127.0.0.1`, `localhost`, `[::1]`) or this address, with the endpoint's port.
   * @default "127.0.0.1"
   */
  host?: string;
  /** @default "us-east-1" */
  region?: string;
  /** @default "000000000000" */
  accountId?: string;
  /**
   * Stands in for IAM: return false to answer `AccessDeniedException`. Receives the caller's
   * access key id, the action (`GetSecretValue`) and the secret's name (when the call names one).
   * @default every call allowed
   */
  authorize?: (call: { accessKeyId: string | undefined; action: string; secretName: string | undefined }) => boolean;
  /**
   * A JSON file the secrets are kept in, so they survive restarts (`npm start` uses one in its
   * data folder). Written after every change, readable by its owner only (0600).
   * @default in memory only
   */
  persistPath?: string;
  /**
   * Stands in for Lambda when a rotation runs: `RotateSecret` labels a new, empty version
   * `AWSPENDING` and calls this with each of the four steps in order, as Secrets Manager invokes
   * the secret's rotation function (`npm start` runs the rotation function's handler). Can also be
   * set later with {@link LocalSecretsManager.setRotationInvoker}. @default none (`RotateSecret`
   * that would rotate answers `InvalidRequestException`)
   */
  rotationInvoker?: RotationInvoker;
  /**
   * The clock, in epoch ms: when a secret scheduled for deletion is gone (its `DeletionDate`
   * passed), and the dates the endpoint answers. Tests move it to end a recovery window.
   * @default Date.now
   */
  now?: () => number;
}

/**
 * Invokes a rotation function with one step's event; rejects when the step fails.
 *
 * @example
 * ```ts
 * import { rotateStep } from "@flxbl-lambda/core";
 *
 * const invoke: RotationInvoker = (_lambdaArn, event) => rotateStep(event, { secrets, admin, scopesFor });
 * ```
 */
export type RotationInvoker = (
  lambdaArn: string,
  event: {
    SecretId: string;
    ClientRequestToken: string;
    Step: "createSecret" | "setSecret" | "testSecret" | "finishSecret";
  },
) => Promise<void>;

interface Version {
  id: string;
  /** Undefined for the empty version a rotation starts with, until its createSecret step writes it. */
  value: string | undefined;
  stages: Set<string>;
  created: number;
}

interface Secret {
  arn: string;
  name: string;
  description: string | undefined;
  created: number;
  changed: number;
  versions: Map<string, Version>;
  rotationEnabled: boolean;
  rotationLambdaArn: string | undefined;
  rotationRules: unknown;
  tags: Tag[];
  /** When DeleteSecret scheduled the deletion (DescribeSecret's `DeletedDate`); undefined while active. */
  deleted?: number;
  /** When the recovery window ends and the secret is gone (DeleteSecret's `DeletionDate`). */
  deletionDate?: number;
}

interface Tag {
  Key: string;
  Value: string;
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A running local endpoint. */
export interface LocalSecretsManager {
  /** What `AWS_ENDPOINT_URL_SECRETS_MANAGER` is set to. */
  readonly url: string;
  /** Calls received, by action (`GetSecretValue`: 3). */
  readonly calls: Record<string, number>;
  /** Sets what runs a rotation's steps (see {@link LocalSecretsManagerOptions.rotationInvoker}). */
  setRotationInvoker(invoker: RotationInvoker | undefined): void;
  /** Resolves when every rotation started so far has ended (tests). */
  rotationsSettled(): Promise<void>;
  resetCalls(): void;
  close(): Promise<void>;
}

const seconds = (ms: number) => ms / 1000;
const dayMs = 86_400_000;
/**
 * Versions a secret keeps. AWS keeps versions that lost all their staging labels (deprecated) for
 * a while, readable by `VersionId`, and removes the oldest of them once a secret has about 100
 * versions; so does this endpoint, at exactly this many (labeled versions are never removed).
 */
export const maxSecretVersions = 100;
/** AWS's words for any call but DescribeSecret, RestoreSecret and DeleteSecret on a secret scheduled for deletion. */
const markedForDeletion = "You can't perform this operation on the secret because it was marked for deletion.";

const mutating = new Set([
  "CreateSecret",
  "PutSecretValue",
  "UpdateSecretVersionStage",
  "RotateSecret",
  "DeleteSecret",
  "RestoreSecret",
]);

interface StoredSecret extends Omit<Secret, "versions"> {
  versions: Array<Omit<Version, "stages"> & { stages: string[] }>;
}

function loadSecrets(path: string | undefined): Map<string, Secret> {
  const secrets = new Map<string, Secret>();
  if (!path || !existsSync(path)) return secrets;
  for (const stored of JSON.parse(readFileSync(path, "utf8")) as StoredSecret[]) {
    const versions = new Map(stored.versions.map((v) => [v.id, { ...v, stages: new Set(v.stages) }]));
    // Files written before tags were kept have none.
    secrets.set(stored.name, { ...stored, tags: stored.tags ?? [], versions });
  }
  return secrets;
}

function saveSecrets(path: string, secrets: Map<string, Secret>): void {
  const stored: StoredSecret[] = [...secrets.values()].map((s) => ({
    ...s,
    versions: [...s.versions.values()].map((v) => ({ ...v, stages: [...v.stages] })),
  }));
  // Written whole and renamed, so a crash mid-write leaves the previous file intact.
  writePrivateFile(path, JSON.stringify(stored), { atomic: true });
}

/**
 * Refuses (403 `AccessDeniedException`) a request whose `Host` does not name this endpoint on
 * loopback: `127.0.0.1`, `localhost` or `[::1]` (any case; or the address it listens on), with
 * its port. A web page whose host name was re-pointed at 127.0.0.1 (DNS rebinding) sends its
 * own host name, and is refused; the AWS SDK, pointed at `url`, sends `127.0.0.1:<port>`.
 */
function assertLoopbackHost(req: IncomingMessage, { address, port }: AddressInfo): void {
  if (isOwnLoopbackHost(req, port, address)) return;
  throw new AwsError(
    "AccessDeniedException",
    `This local endpoint answers only requests for Host 127.0.0.1:${port}, localhost:${port} or [::1]:${port}`,
    403,
  );
}

/** A Coral validation error, worded as AWS words them (`1 validation error detected: ...`). */
const invalid = (value: unknown, at: string, constraint: string) =>
  new AwsError(
    "ValidationException",
    `1 validation error detected: Value '${String(value)}' at '${at}' failed to satisfy constraint: ${constraint}`,
  );

function parseTags(raw: unknown): Tag[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new AwsError("InvalidParameterException", "Tags must be a list of {Key, Value}");
  return raw.map((tag: { Key?: unknown; Value?: unknown }) => {
    if (typeof tag?.Key !== "string" || tag.Key === "")
      throw new AwsError("InvalidParameterException", "Every tag needs a Key");
    return { Key: tag.Key, Value: typeof tag.Value === "string" ? tag.Value : "" };
  });
}

const filterKeys = ["description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"];

/**
 * The words the `all` filter searches by: split at anything not a letter or digit, at a change
 * from lower to upper case and between letters and digits (`credsDatabase#892`: creds, database, 892).
 */
const wordsOf = (text: string) =>
  (text.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g) ?? []).map((w) => w.toLowerCase());

/** Whether one filter value (without its `!`) matches a secret, as the API reference's Filter says. */
function filterMatches(key: string, s: Secret, value: string): boolean {
  switch (key) {
    case "name":
      return s.name.startsWith(value);
    case "description":
      return (s.description ?? "").toLowerCase().startsWith(value.toLowerCase());
    case "tag-key":
      return s.tags.some((t) => t.Key.startsWith(value));
    case "tag-value":
      return s.tags.some((t) => t.Value.startsWith(value));
    case "all": {
      const words = [s.name, s.description ?? "", ...s.tags.flatMap((t) => [t.Key, t.Value])].flatMap(wordsOf);
      return wordsOf(value).some((w) => words.some((word) => word.startsWith(w)));
    }
    default:
      // primary-region, owning-service: no secret here is replicated or managed by another service.
      return false;
  }
}

/**
 * ListSecrets' `Filters`: every filter must match (AND); within one, any of its values (OR); a
 * value starting with `!` must not match.
 */
function parseFilters(raw: unknown): Array<(s: Secret) => boolean> {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new AwsError("InvalidParameterException", "Filters must be a list of {Key, Values}");
  return raw.map((filter: { Key?: unknown; Values?: unknown }, i) => {
    const key = filter?.Key;
    const values = filter?.Values;
    if (typeof key !== "string" || !filterKeys.includes(key))
      throw invalid(
        key,
        `filters.${i + 1}.member.key`,
        `Member must satisfy enum value set: [${filterKeys.join(", ")}]`,
      );
    if (!Array.isArray(values) || values.some((v) => typeof v !== "string"))
      throw new AwsError("InvalidParameterException", `Filter ${key} needs a list of string Values`);
    if (values.length < 1 || values.length > 10)
      throw invalid(
        `[${values.join(", ")}]`,
        `filters.${i + 1}.member.values`,
        `Member must have length ${values.length < 1 ? "greater than or equal to 1" : "less than or equal to 10"}`,
      );
    const wanted = (values as string[]).filter((v) => !v.startsWith("!"));
    const unwanted = (values as string[]).filter((v) => v.startsWith("!")).map((v) => v.slice(1));
    return (s: Secret) =>
      (wanted.length === 0 || wanted.some((v) => filterMatches(key, s, v))) &&
      !unwanted.some((v) => filterMatches(key, s, v));
  });
}

/**
 * One page of a list: `MaxResults` (1-100) items from where `NextToken` says. A token is
 * opaque (the offset and the query it was given for); one that does not decode, or was given for
 * another query, is refused with `InvalidNextTokenException`.
 */
function paginate<T>(
  items: T[],
  input: Record<string, unknown>,
  query: string,
): { page: T[]; next: string | undefined } {
  const max = input.MaxResults ?? 100;
  if (typeof max !== "number" || !Number.isInteger(max))
    throw new AwsError("SerializationException", "MaxResults must be an integer");
  if (max < 1) throw invalid(max, "maxResults", "Member must have value greater than or equal to 1");
  if (max > 100) throw invalid(max, "maxResults", "Member must have value less than or equal to 100");
  const fingerprint = createHash("sha256").update(query).digest("base64url").slice(0, 16);
  let offset = 0;
  if (input.NextToken !== undefined && input.NextToken !== null) {
    let decoded: { o?: unknown; q?: unknown } | undefined;
    try {
      decoded = JSON.parse(Buffer.from(String(input.NextToken), "base64url").toString("utf8"));
    } catch {
      decoded = undefined;
    }
    if (
      !decoded ||
      decoded.q !== fingerprint ||
      typeof decoded.o !== "number" ||
      !Number.isInteger(decoded.o) ||
      decoded.o < 0
    )
      throw new AwsError("InvalidNextTokenException", "The NextToken value is invalid.");
    offset = decoded.o;
  }
  const page = items.slice(offset, offset + max);
  const more = offset + max < items.length;
  const next = more
    ? Buffer.from(JSON.stringify({ o: offset + max, q: fingerprint })).toString("base64url")
    : undefined;
  return { page, next };
}

/**
 * Refuses a request with no SigV4 signature, as AWS's JSON services do (400): no `Authorization`
 * header, or one that is not `AWS4-...`, is `MissingAuthenticationTokenException`; one without its
 * `Credential`, `SignedHeaders` or `Signature`, or a request without `X-Amz-Date` (or `Date`), is
 * `IncompleteSignatureException`. The signature itself is not checked (there are no real keys).
 * Returns the header.
 */
function assertSigned(req: IncomingMessage): string {
  const auth = req.headers.authorization?.trim();
  if (!auth?.startsWith("AWS4-"))
    throw new AwsError("MissingAuthenticationTokenException", "Request is missing Authentication Token");
  const parts = new Set(
    auth
      .split(/[\s,]+/)
      .slice(1)
      .filter((part) => /^[^=]+=.+/.test(part))
      .map((part) => part.split("=")[0]),
  );
  const missing = ["Credential", "Signature", "SignedHeaders"]
    .filter((name) => !parts.has(name))
    .map((name) => `Authorization header requires '${name}' parameter.`);
  if (!req.headers["x-amz-date"] && !req.headers.date)
    missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  if (missing.length > 0)
    // AWS also echoes the header back; left out here, so no signature lands in a log.
    throw new AwsError("IncompleteSignatureException", missing.join(" "));
  return auth;
}

/**
 * Starts the endpoint on loopback.
 *
 * @example
 * ```ts
 * import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
 *
 * const sm = await startLocalSecretsManager();
 * process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = sm.url;
 * await new SecretsManagerClient({}).send(new CreateSecretCommand({ Name: "app/dev/fn", SecretString: "..." }));
 * ```
 */
export async function startLocalSecretsManager(options: LocalSecretsManagerOptions = {}): Promise<LocalSecretsManager> {
  const region = options.region ?? "us-east-1";
  const accountId = options.accountId ?? "000000000000";
  const now = options.now ?? Date.now;
  const secrets = loadSecrets(options.persistPath);
  let calls: Record<string, number> = {};
  const persist = () => {
    if (options.persistPath) saveSecrets(options.persistPath, secrets);
  };

  /** Drops the secrets whose recovery window has ended, as AWS does in the background. */
  const purgeExpired = () => {
    let purged = false;
    for (const [name, s] of secrets) {
      if (s.deletionDate !== undefined && s.deletionDate <= now()) {
        secrets.delete(name);
        purged = true;
      }
    }
    if (purged) persist();
  };

  const lookUp = (id: unknown): Secret | undefined => {
    if (typeof id !== "string" || id === "") throw new AwsError("InvalidParameterException", "SecretId is required");
    const byName = secrets.get(id);
    if (byName) return byName;
    for (const s of secrets.values()) {
      // A full ARN, or a partial one without the random suffix.
      if (s.arn === id || s.arn.slice(0, -7) === id) return s;
    }
    return undefined;
  };

  /** The secret; one scheduled for deletion only where `scheduled` says the call works on it (DescribeSecret). */
  const find = (id: unknown, scheduled: "refused" | "allowed" = "refused"): Secret => {
    const s = lookUp(id);
    if (!s) throw new AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    if (s.deleted !== undefined && scheduled === "refused")
      throw new AwsError("InvalidRequestException", markedForDeletion);
    return s;
  };

  const versionWithStage = (s: Secret, stage: string) => [...s.versions.values()].find((v) => v.stages.has(stage));

  /** Moves a stage to a version; moving AWSCURRENT labels the old current AWSPREVIOUS. */
  const moveStage = (s: Secret, stage: string, to: Version) => {
    const from = versionWithStage(s, stage);
    if (from === to) return;
    if (from) from.stages.delete(stage);
    if (stage === "AWSCURRENT" && from) {
      const previous = versionWithStage(s, "AWSPREVIOUS");
      previous?.stages.delete("AWSPREVIOUS");
      from.stages.add("AWSPREVIOUS");
    }
    to.stages.add(stage);
    s.changed = now();
  };

  /**
   * A version that loses its last label stays (deprecated, readable by VersionId); past
   * {@link maxSecretVersions} versions the oldest deprecated ones go.
   */
  const pruneVersions = (s: Secret) => {
    const deprecated = [...s.versions.values()]
      .filter((v) => v.stages.size === 0)
      .sort((a, b) => a.created - b.created);
    while (s.versions.size > maxSecretVersions && deprecated.length > 0)
      s.versions.delete((deprecated.shift() as Version).id);
  };

  /** Versions with a staging label, as DescribeSecret and ListSecrets show them (deprecated ones are left out). */
  const labeled = (s: Secret) =>
    Object.fromEntries([...s.versions.values()].filter((v) => v.stages.size > 0).map((v) => [v.id, [...v.stages]]));

  const summary = (s: Secret) => ({
    ARN: s.arn,
    Name: s.name,
    Description: s.description,
    CreatedDate: seconds(s.created),
    LastChangedDate: seconds(s.changed),
    DeletedDate: s.deleted === undefined ? undefined : seconds(s.deleted),
    RotationEnabled: s.rotationEnabled,
    RotationLambdaARN: s.rotationLambdaArn,
    RotationRules: s.rotationRules,
    Tags: s.tags.length > 0 ? s.tags : undefined,
  });
  const describe = (s: Secret) => ({ ...summary(s), VersionIdsToStages: labeled(s) });
  const listEntry = (s: Secret) => ({ ...summary(s), SecretVersionsToStages: labeled(s) });

  const putVersion = (s: Secret, value: unknown, token: unknown, stages: unknown) => {
    if (typeof value !== "string") throw new AwsError("InvalidParameterException", "SecretString is required");
    const id = typeof token === "string" && token !== "" ? token : randomUUID();
    const labels = Array.isArray(stages) && stages.length > 0 ? (stages as string[]) : ["AWSCURRENT"];
    const existing = s.versions.get(id);
    if (existing?.value === undefined && existing) {
      // The empty version RotateSecret made: createSecret fills it in.
      existing.value = value;
      for (const stage of labels) moveStage(s, stage, existing);
      s.changed = now();
      return existing;
    }
    if (existing) {
      if (existing.value !== value)
        throw new AwsError(
          "ResourceExistsException",
          `A version with ClientRequestToken ${id} already exists with a different value`,
        );
      return existing;
    }
    const version: Version = { id, value, stages: new Set(), created: now() };
    s.versions.set(id, version);
    for (const stage of labels) moveStage(s, stage, version);
    pruneVersions(s);
    return version;
  };

  let rotationInvoker = options.rotationInvoker;
  const rotations = new Set<Promise<void>>();
  /** Runs a rotation's four steps in order, after the answer to RotateSecret (AWS rotates asynchronously). */
  const startRotation = (s: Secret, token: string) => {
    const invoke = rotationInvoker;
    const lambdaArn = s.rotationLambdaArn;
    if (!invoke || !lambdaArn) return;
    const run = (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      for (const Step of ["createSecret", "setSecret", "testSecret", "finishSecret"] as const) {
        try {
          await invoke(lambdaArn, { SecretId: s.arn, ClientRequestToken: token, Step });
        } catch {
          // A failed step ends the rotation; AWSPENDING stays on the (maybe empty) version, as in AWS.
          return;
        } finally {
          persist();
        }
      }
    })();
    rotations.add(run);
    void run.finally(() => rotations.delete(run));
  };

  const actions: Record<string, (input: Record<string, unknown>) => unknown> = {
    CreateSecret(input) {
      const name = input.Name;
      if (typeof name !== "string" || name === "") throw new AwsError("InvalidParameterException", "Name is required");
      const existing = secrets.get(name);
      if (existing?.deleted !== undefined)
        throw new AwsError(
          "InvalidRequestException",
          "You can't create this secret because a secret with this name is already scheduled for deletion.",
        );
      if (existing) throw new AwsError("ResourceExistsException", `The secret ${name} already exists.`);
      const tags = parseTags(input.Tags);
      const created = now();
      const suffix = randomBytes(4).toString("base64url").slice(0, 6);
      const secret: Secret = {
        arn: `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-${suffix}`,
        name,
        description: typeof input.Description === "string" ? input.Description : undefined,
        created,
        changed: created,
        versions: new Map(),
        rotationEnabled: false,
        rotationLambdaArn: undefined,
        rotationRules: undefined,
        tags,
      };
      secrets.set(name, secret);
      if (input.SecretString === undefined) return { ARN: secret.arn, Name: name };
      const version = putVersion(secret, input.SecretString, input.ClientRequestToken, ["AWSCURRENT"]);
      return { ARN: secret.arn, Name: name, VersionId: version.id };
    },
    GetSecretValue(input) {
      const s = find(input.SecretId);
      let version: Version | undefined;
      if (typeof input.VersionId === "string") {
        version = s.versions.get(input.VersionId);
        if (version && typeof input.VersionStage === "string" && !version.stages.has(input.VersionStage))
          version = undefined;
      } else {
        version = versionWithStage(s, typeof input.VersionStage === "string" ? input.VersionStage : "AWSCURRENT");
      }
      if (!version || version.value === undefined)
        throw new AwsError(
          "ResourceNotFoundException",
          `Secrets Manager can't find the specified secret value for ${input.VersionId ? `VersionId: ${input.VersionId}` : `staging label: ${input.VersionStage ?? "AWSCURRENT"}`}`,
        );
      return {
        ARN: s.arn,
        Name: s.name,
        VersionId: version.id,
        SecretString: version.value,
        VersionStages: [...version.stages],
        CreatedDate: seconds(version.created),
      };
    },
    PutSecretValue(input) {
      const s = find(input.SecretId);
      const version = putVersion(s, input.SecretString, input.ClientRequestToken, input.VersionStages);
      return { ARN: s.arn, Name: s.name, VersionId: version.id, VersionStages: [...version.stages] };
    },
    DescribeSecret(input) {
      return describe(find(input.SecretId, "allowed"));
    },
    ListSecrets(input) {
      const includeDeleted = input.IncludePlannedDeletion === true;
      const filters = parseFilters(input.Filters);
      const sortBy = input.SortBy ?? "created-date";
      const sortOrder = input.SortOrder ?? "asc";
      if (!["created-date", "last-changed-date", "last-accessed-date", "name"].includes(sortBy as string))
        throw new AwsError(
          "ValidationException",
          `1 validation error detected: Value '${String(sortBy)}' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [created-date, last-accessed-date, last-changed-date, name]`,
        );
      if (sortOrder !== "asc" && sortOrder !== "desc")
        throw new AwsError(
          "ValidationException",
          `1 validation error detected: Value '${String(sortOrder)}' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]`,
        );
      const key = (s: Secret): string | number =>
        sortBy === "name" ? s.name : sortBy === "last-changed-date" ? s.changed : s.created;
      const listed = [...secrets.values()]
        .filter((s) => (includeDeleted || s.deleted === undefined) && filters.every((f) => f(s)))
        .sort((a, b) => {
          const [x, y] = [key(a), key(b)];
          const order = x < y ? -1 : x > y ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
          return sortOrder === "desc" ? -order : order;
        });
      const query = JSON.stringify([includeDeleted, input.Filters ?? null, sortBy, sortOrder]);
      const { page, next } = paginate(listed, input, query);
      return { SecretList: page.map(listEntry), NextToken: next };
    },
    ListSecretVersionIds(input) {
      const s = find(input.SecretId);
      const versions = [...s.versions.values()]
        .filter((v) => input.IncludeDeprecated === true || v.stages.size > 0)
        .sort((a, b) => b.created - a.created);
      const { page, next } = paginate(versions, input, JSON.stringify([s.arn, input.IncludeDeprecated === true]));
      return {
        ARN: s.arn,
        Name: s.name,
        Versions: page.map((v) => ({ VersionId: v.id, VersionStages: [...v.stages], CreatedDate: seconds(v.created) })),
        NextToken: next,
      };
    },
    UpdateSecretVersionStage(input) {
      const s = find(input.SecretId);
      const stage = input.VersionStage;
      if (typeof stage !== "string") throw new AwsError("InvalidParameterException", "VersionStage is required");
      const removeFrom = typeof input.RemoveFromVersionId === "string" ? input.RemoveFromVersionId : undefined;
      const moveTo = typeof input.MoveToVersionId === "string" ? s.versions.get(input.MoveToVersionId) : undefined;
      if (input.MoveToVersionId !== undefined && !moveTo)
        throw new AwsError("ResourceNotFoundException", `Version ${input.MoveToVersionId} not found`);
      const holder = versionWithStage(s, stage);
      if (holder && moveTo && holder !== moveTo && holder.id !== removeFrom)
        throw new AwsError(
          "InvalidParameterException",
          `The staging label ${stage} is attached to version ${holder.id}; name it in RemoveFromVersionId`,
        );
      if (moveTo) {
        moveStage(s, stage, moveTo);
        pruneVersions(s);
      } else if (removeFrom) {
        if (stage === "AWSCURRENT") throw new AwsError("InvalidParameterException", "AWSCURRENT cannot be removed");
        s.versions.get(removeFrom)?.stages.delete(stage);
        s.changed = now();
      }
      return { ARN: s.arn, Name: s.name };
    },
    RotateSecret(input) {
      const s = find(input.SecretId);
      if (typeof input.RotationLambdaARN === "string") s.rotationLambdaArn = input.RotationLambdaARN;
      if (input.RotationRules !== undefined) s.rotationRules = input.RotationRules;
      if (!s.rotationLambdaArn)
        throw new AwsError(
          "InvalidRequestException",
          "No Lambda rotation function ARN is associated with this secret: pass RotationLambdaARN.",
        );
      s.rotationEnabled = true;
      s.changed = now();
      // RotateImmediately=false only stores the schedule (as the Keys stack's rotation schedules do).
      if (input.RotateImmediately === false) return { ARN: s.arn, Name: s.name };
      const current = versionWithStage(s, "AWSCURRENT");
      const pending = versionWithStage(s, "AWSPENDING");
      if (pending && pending !== current) {
        // AWS answers so and reattempts the unfinished rotation itself.
        startRotation(s, pending.id);
        throw new AwsError(
          "InvalidRequestException",
          "A previous rotation isn't complete. That rotation will be reattempted.",
        );
      }
      if (!rotationInvoker)
        throw new AwsError(
          "InvalidRequestException",
          `The rotation function ${s.rotationLambdaArn} cannot be invoked here (no rotation function runs locally).`,
        );
      const token =
        typeof input.ClientRequestToken === "string" && input.ClientRequestToken
          ? input.ClientRequestToken
          : randomUUID();
      if (s.versions.has(token))
        throw new AwsError("ResourceExistsException", `A version with ClientRequestToken ${token} already exists.`);
      const version: Version = { id: token, value: undefined, stages: new Set(), created: now() };
      s.versions.set(token, version);
      moveStage(s, "AWSPENDING", version);
      pruneVersions(s);
      startRotation(s, token);
      return { ARN: s.arn, Name: s.name, VersionId: token };
    },
    DeleteSecret(input) {
      const force = input.ForceDeleteWithoutRecovery === true;
      const recoveryDays = input.RecoveryWindowInDays;
      if (force && recoveryDays !== undefined && recoveryDays !== null)
        throw new AwsError(
          "InvalidParameterException",
          "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        );
      const days = recoveryDays ?? 30;
      if (typeof days !== "number" || !Number.isInteger(days))
        throw new AwsError(
          "InvalidParameterException",
          "The RecoveryWindowInDays value must be a whole number of days.",
        );
      if (days < 7)
        throw new AwsError(
          "InvalidParameterException",
          "The RecoveryWindowInDays value must be greater than or equal to 7.",
        );
      if (days > 30)
        throw new AwsError(
          "InvalidParameterException",
          "The RecoveryWindowInDays value must be less than or equal to 30.",
        );
      const s = lookUp(input.SecretId);
      if (!s) {
        // AWS: forcibly deleting a secret that does not exist (or no longer does) is no error.
        if (!force) throw new AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
        const id = input.SecretId as string;
        const arn = id.startsWith("arn:") ? id : `arn:aws:secretsmanager:${region}:${accountId}:secret:${id}`;
        return { ARN: arn, Name: id.startsWith("arn:") ? undefined : id, DeletionDate: seconds(now()) };
      }
      if (force) {
        // Also a secret already scheduled for deletion: AWS deletes it at once.
        secrets.delete(s.name);
        return { ARN: s.arn, Name: s.name, DeletionDate: seconds(now()) };
      }
      if (s.deleted !== undefined) throw new AwsError("InvalidRequestException", markedForDeletion);
      s.deleted = now();
      s.deletionDate = s.deleted + days * dayMs;
      return { ARN: s.arn, Name: s.name, DeletionDate: seconds(s.deletionDate) };
    },
    RestoreSecret(input) {
      const s = find(input.SecretId, "allowed");
      // Restoring a secret that is not scheduled for deletion changes nothing, and is no error.
      s.deleted = undefined;
      s.deletionDate = undefined;
      return { ARN: s.arn, Name: s.name };
    },
  };

  const secretNameOf = (input: Record<string, unknown>): string | undefined => {
    if (typeof input.Name === "string") return input.Name;
    try {
      return lookUp(input.SecretId)?.name ?? (input.SecretId as string);
    } catch {
      return undefined;
    }
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    // Every answer, success or error, carries a request id, as AWS's do.
    res
      .writeHead(status, { "content-type": "application/x-amz-json-1.1", "x-amzn-RequestId": randomUUID(), ...headers })
      .end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers["x-amz-target"] ?? "");
    const action = target.startsWith("secretsmanager.") ? target.slice("secretsmanager.".length) : "";
    calls[action || "(none)"] = (calls[action || "(none)"] ?? 0) + 1;
    try {
      assertLoopbackHost(req, server.address() as AddressInfo);
      const run = actions[action];
      if (req.method !== "POST" || !run)
        throw new AwsError("UnknownOperationException", `Unsupported operation "${target}"`);
      let body: unknown;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {};
      } catch {
        throw new AwsError("SerializationException", "Request body is not JSON");
      }
      const auth = assertSigned(req);
      // `null`, a list, a string: valid JSON, but no request structure.
      if (typeof body !== "object" || body === null || Array.isArray(body))
        throw new AwsError("SerializationException", "Start of structure or map found where not expected.");
      const input = body as Record<string, unknown>;
      const accessKeyId = /Credential=([^/,\s]+)\//.exec(auth)?.[1];
      if (options.authorize && !options.authorize({ accessKeyId, action, secretName: secretNameOf(input) })) {
        throw new AwsError(
          "AccessDeniedException",
          `User ${accessKeyId ?? "(anonymous)"} is not authorized to perform secretsmanager:${action}`,
        );
      }
      purgeExpired();
      const output = run(input);
      if (mutating.has(action)) persist();
      send(res, 200, output);
    } catch (err) {
      const e = err instanceof AwsError ? err : new AwsError("InternalServiceError", "Internal error", 500);
      if (!(err instanceof AwsError)) console.error("[local-secrets-manager]", err);
      send(res, e.status, { __type: e.type, message: e.message }, { "x-amzn-errortype": e.type });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    get calls() {
      return calls;
    },
    setRotationInvoker(invoker) {
      rotationInvoker = invoker;
    },
    async rotationsSettled() {
      while (rotations.size > 0) await Promise.all([...rotations]);
    },
    resetCalls() {
      calls = {};
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
