import { randomBytes, randomUUID } from "node:crypto";
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
 * `AWSPREVIOUS`) as Secrets Manager does, and can deny calls by caller access key id, read from
 * the SigV4 `Authorization` header, to stand in for IAM.
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

const mutating = new Set([
  "CreateSecret",
  "PutSecretValue",
  "UpdateSecretVersionStage",
  "RotateSecret",
  "DeleteSecret",
]);

interface StoredSecret extends Omit<Secret, "versions"> {
  versions: Array<Omit<Version, "stages"> & { stages: string[] }>;
}

function loadSecrets(path: string | undefined): Map<string, Secret> {
  const secrets = new Map<string, Secret>();
  if (!path || !existsSync(path)) return secrets;
  for (const stored of JSON.parse(readFileSync(path, "utf8")) as StoredSecret[]) {
    const versions = new Map(stored.versions.map((v) => [v.id, { ...v, stages: new Set(v.stages) }]));
    secrets.set(stored.name, { ...stored, versions });
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
  const secrets = loadSecrets(options.persistPath);
  let calls: Record<string, number> = {};
  const persist = () => {
    if (options.persistPath) saveSecrets(options.persistPath, secrets);
  };

  const find = (id: unknown): Secret => {
    if (typeof id !== "string" || id === "") throw new AwsError("InvalidParameterException", "SecretId is required");
    const byName = secrets.get(id);
    if (byName) return byName;
    for (const s of secrets.values()) {
      // A full ARN, or a partial one without the random suffix.
      if (s.arn === id || s.arn.slice(0, -7) === id) return s;
    }
    throw new AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
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
    // Versions with no stage left are dropped, as Secrets Manager eventually does.
    for (const [id, v] of s.versions) if (v.stages.size === 0) s.versions.delete(id);
    s.changed = Date.now();
  };

  const describe = (s: Secret) => ({
    ARN: s.arn,
    Name: s.name,
    Description: s.description,
    CreatedDate: seconds(s.created),
    LastChangedDate: seconds(s.changed),
    RotationEnabled: s.rotationEnabled,
    RotationLambdaARN: s.rotationLambdaArn,
    RotationRules: s.rotationRules,
    VersionIdsToStages: Object.fromEntries([...s.versions.values()].map((v) => [v.id, [...v.stages]])),
  });

  const putVersion = (s: Secret, value: unknown, token: unknown, stages: unknown) => {
    if (typeof value !== "string") throw new AwsError("InvalidParameterException", "SecretString is required");
    const id = typeof token === "string" && token !== "" ? token : randomUUID();
    const labels = Array.isArray(stages) && stages.length > 0 ? (stages as string[]) : ["AWSCURRENT"];
    const existing = s.versions.get(id);
    if (existing?.value === undefined && existing) {
      // The empty version RotateSecret made: createSecret fills it in.
      existing.value = value;
      for (const stage of labels) moveStage(s, stage, existing);
      s.changed = Date.now();
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
    const version: Version = { id, value, stages: new Set(), created: Date.now() };
    s.versions.set(id, version);
    for (const stage of labels) moveStage(s, stage, version);
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
      if (secrets.has(name)) throw new AwsError("ResourceExistsException", `The secret ${name} already exists.`);
      const now = Date.now();
      const suffix = randomBytes(4).toString("base64url").slice(0, 6);
      const secret: Secret = {
        arn: `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-${suffix}`,
        name,
        description: typeof input.Description === "string" ? input.Description : undefined,
        created: now,
        changed: now,
        versions: new Map(),
        rotationEnabled: false,
        rotationLambdaArn: undefined,
        rotationRules: undefined,
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
      return describe(find(input.SecretId));
    },
    ListSecrets() {
      return { SecretList: [...secrets.values()].map(describe) };
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
      if (moveTo) moveStage(s, stage, moveTo);
      else if (removeFrom) {
        if (stage === "AWSCURRENT") throw new AwsError("InvalidParameterException", "AWSCURRENT cannot be removed");
        s.versions.get(removeFrom)?.stages.delete(stage);
        s.changed = Date.now();
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
      s.changed = Date.now();
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
      const version: Version = { id: token, value: undefined, stages: new Set(), created: Date.now() };
      s.versions.set(token, version);
      moveStage(s, "AWSPENDING", version);
      startRotation(s, token);
      return { ARN: s.arn, Name: s.name, VersionId: token };
    },
    DeleteSecret(input) {
      const s = find(input.SecretId);
      secrets.delete(s.name);
      return { ARN: s.arn, Name: s.name, DeletionDate: seconds(Date.now()) };
    },
  };

  const secretNameOf = (input: Record<string, unknown>): string | undefined => {
    if (typeof input.Name === "string") return input.Name;
    try {
      return find(input.SecretId).name;
    } catch {
      return typeof input.SecretId === "string" ? input.SecretId : undefined;
    }
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/x-amz-json-1.1", ...headers }).end(text);
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
      let input: Record<string, unknown>;
      try {
        input = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>) : {};
      } catch {
        throw new AwsError("SerializationException", "Request body is not JSON");
      }
      const auth = String(req.headers.authorization ?? "");
      const accessKeyId = /Credential=([^/,\s]+)\//.exec(auth)?.[1];
      if (options.authorize && !options.authorize({ accessKeyId, action, secretName: secretNameOf(input) })) {
        throw new AwsError(
          "AccessDeniedException",
          `User ${accessKeyId ?? "(anonymous)"} is not authorized to perform secretsmanager:${action}`,
        );
      }
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
