import { randomUUID } from "node:crypto";
import { chmodSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import {
  ensureStateTable,
  type LocalDynamoDB,
  type LocalSecretsManager,
  startLocalDynamoDB,
  startLocalSecretsManager,
  writePrivateFile,
} from "@flxbl-lambda/aws-local";
import {
  adminSecretName,
  contractDefaults,
  type FunctionSpec,
  flxblUrlProblem,
  functionEnvironment,
  functionSecretName,
  httpApiEvent,
  parseSchedule,
  rotationEnvironment,
  scheduledEvent,
  type WebhookSpec,
} from "@flxbl-lambda/core";
import { type Emulator, type SeedData, startEmulator } from "@flxbl-lambda/emulator";
import { appName, rotationFunction } from "@flxbl-lambda/functions";
import { isScheduledForDeletion, type ProvisionResult, provisionKeys } from "@flxbl-lambda/provisioning";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { connectionFailure, isUnreachable } from "./cli-kit.js";
import { type Delivery, InvocationRecorder } from "./console/recorder.js";
import { consolePath, createConsole } from "./console/server.js";
import type { FlxblCall } from "./flxbl-calls.js";
import { FunctionHost, type InvokeOutcome } from "./function-host.js";
import { readable } from "./function-lines.js";
import { isLocalPath, localRequestRefusal, sendJson, writeResult } from "./gateway-http.js";
import { compactMetricLine } from "./metric-lines.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** How to start the local runtime. Every field has a default; `npm start` fills them from the environment. */
export interface RuntimeOptions {
  manifest: readonly FunctionSpec[];
  /** Gateway port. @default 3000 (0 = any free port) */
  port?: number;
  /** Where databases, secrets and runtime.json live. @default ".flxbl-local" */
  dataDir?: string;
  /** Ports of the local servers; 0 (the default) picks free ones. */
  ports?: { emulator?: number; dynamodb?: number; secretsManager?: number };
  /** A real FLXBL instead of the emulator: its API base and an admin key. */
  flxbl?: { url: string; adminKey: string };
  /** Emulator admin key (when the emulator runs). @default one generated per data folder */
  emulatorAdminKey?: string;
  /** Environment variables from `.env`; each overrides a function's manifest value of the same name. */
  env?: Record<string, string>;
  /** Whether jobs fire on their schedules. @default true */
  schedules?: boolean;
  /** Where the runtime writes its own lines. @default console.log */
  log?: (line: string) => void;
  /** Where function output goes. @default log, prefixed with the function name */
  functionLog?: (fn: string, line: string) => void;
  /**
   * Empties the data folder first (`npm start -- --reset`): a new emulator database with the
   * sample data, new keys and secrets. Refused, like any start, while another runtime uses the folder.
   * @default false
   */
  reset?: boolean;
  /**
   * Watches each function's FLXBL calls inside its process (undici's diagnostics channels: the
   * function still calls FLXBL directly), so the console shows each invocation's calls and
   * retries. `npm start` turns it on.
   * @default false
   */
  recordFlxblCalls?: boolean;
}

/** What `runtime.json` holds: everything scripts and tests need to talk to the running app. */
export interface RuntimeInfo {
  gatewayUrl: string;
  /** The local console's page (`<gatewayUrl>/_local/console/`); absent in a runtime.json from before the console. */
  consoleUrl?: string;
  flxbl: { url: string; adminKey: string };
  /** Whether FLXBL is the emulator npm start runs (false: the tenant at `FLXBL_URL`). */
  emulator: boolean;
  /** The local Secrets Manager endpoint (`AWS_ENDPOINT_URL_SECRETS_MANAGER` for tools). */
  secretsManagerUrl: string;
  functions: Record<
    string,
    {
      trigger: string;
      scopes: readonly string[];
      secretName: string;
      /** A webhook's signature scheme, its signing secrets and its URL. */
      signature?: string;
      signingSecrets?: string[];
      url?: string;
    }
  >;
}

/** A running local app. */
export interface Runtime {
  info: RuntimeInfo;
  provisioned: ProvisionResult[];
  hosts: Map<string, FunctionHost>;
  /** Runs a job now, as its schedule would. */
  runJob(name: string): Promise<InvokeOutcome>;
  close(): Promise<void>;
}

const stage = "local";
const describeTrigger = (spec: FunctionSpec) =>
  spec.trigger.kind === "http" ? `${spec.trigger.method} ${spec.trigger.path}` : spec.trigger.expression;

/**
 * Starts the whole app offline: the FLXBL emulator (or a real FLXBL), dynalite with the state
 * table, a Secrets Manager endpoint, a key per function with exactly its scopes, one process
 * per function, an HTTP gateway for the webhook routes and a scheduler for the jobs.
 *
 * @example
 * ```ts
 * const runtime = await startRuntime({ manifest, port: 0, dataDir: ".flxbl-local" });
 * await fetch(`${runtime.info.gatewayUrl}/_local/jobs/expire-stale-orders`, { method: "POST" });
 * await runtime.close();
 * ```
 */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const log = options.log ?? ((line: string) => console.log(line));
  const functionLog =
    options.functionLog ?? ((fn: string, line: string) => log(`${fn.padEnd(20)} | ${readable(line)}`));
  const dataDir = resolve(options.dataDir ?? ".flxbl-local");
  makePrivateDataDir(dataDir);
  const releaseFolder = claimDataDir(dataDir);
  const closers: Array<() => Promise<void>> = [async () => releaseFolder()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  };

  try {
    if (options.reset) {
      // A real FLXBL keeps the keys provisioned for this folder's secrets: forgetting the secrets
      // would leave those keys working in the tenant, unrevoked.
      if (options.flxbl)
        throw new Error(
          "npm start -- --reset is for the emulator: with FLXBL_URL set it would forget the local secrets and leave their keys working in your tenant. Unset FLXBL_URL, or revoke the keys first",
        );
      // Only what npm start itself keeps here: LOCAL_DATA_DIR may be a folder with other things in it.
      for (const name of readdirSync(dataDir))
        if (ownDataFiles.test(name)) rmSync(join(dataDir, name), { recursive: true, force: true });
      log(`Reset ${dataDir}: a new emulator database, new keys and secrets`);
    }
    let flxbl = options.flxbl;
    let emulator: Emulator | undefined;
    const urlProblem = flxbl ? flxblUrlProblem(flxbl.url) : undefined;
    if (urlProblem)
      throw new Error(`${urlProblem}. Set FLXBL_URL to an https: URL, or leave it unset to use the emulator.`);
    // Read before the database opens, so a mistake in them is not blamed on the data folder.
    const schema = JSON.parse(readFileSync(join(repoRoot, "packages/functions/flxbl/schema.json"), "utf8")) as {
      entities: Array<{ name: string }>;
    };
    if (!flxbl) {
      const db = join(dataDir, "emulator.db");
      const seed = JSON.parse(readFileSync(join(repoRoot, "packages/functions/flxbl/seed.json"), "utf8")) as SeedData;
      const adminKey = options.emulatorAdminKey ?? emulatorKey(dataDir);
      emulator = await opening({ what: "the FLXBL emulator", file: db, portVariable: "FLXBL_EMULATOR_PORT" }, () =>
        startEmulator({ schema, seed, db, port: options.ports?.emulator ?? 0, adminKey }),
      );
      closers.push(() => (emulator as Emulator).close());
      flxbl = { url: emulator.url, adminKey: emulator.adminKey };
    }
    const dynamodbPath = join(dataDir, "dynamodb");
    const dynamodb: LocalDynamoDB = await opening(
      { what: "the local DynamoDB (dynalite)", file: dynamodbPath, portVariable: "LOCAL_DYNAMODB_PORT" },
      () => startLocalDynamoDB({ port: options.ports?.dynamodb ?? 0, path: dynamodbPath }),
    );
    closers.push(() => dynamodb.close());
    const secretsPath = join(dataDir, "secrets.json");
    const secretsManager: LocalSecretsManager = await opening(
      { what: "the local Secrets Manager", file: secretsPath, portVariable: "LOCAL_SECRETS_MANAGER_PORT" },
      () => startLocalSecretsManager({ port: options.ports?.secretsManager ?? 0, persistPath: secretsPath }),
    );
    closers.push(() => secretsManager.close());

    const aws = {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
    };
    const credentials = { accessKeyId: "local", secretAccessKey: "local" };
    const tableName = `${appName}-${stage}-state`;
    const stateClient = new DynamoDBClient({ endpoint: dynamodb.url, region: aws.AWS_REGION, credentials });
    await ensureStateTable(stateClient, tableName);
    // The rule the Keys stack checks at synth time: a rotated-out key must outlive every cached copy.
    const ttl = Number(options.env?.FLXBL_SECRET_TTL_SECONDS || contractDefaults.secretTtlSeconds);
    const grace = Number(options.env?.ROTATION_GRACE_SECONDS || contractDefaults.rotationGraceSeconds);
    if (!(grace > ttl))
      throw new Error(
        `ROTATION_GRACE_SECONDS (${grace}) must be longer than FLXBL_SECRET_TTL_SECONDS (${ttl}), or a warm function would hold a revoked key; fix .env`,
      );
    const deployment = { app: appName, stage };
    const secretName = (fn: string) => functionSecretName(deployment, fn);
    const secretsClient = new SecretsManagerClient({
      endpoint: secretsManager.url,
      region: aws.AWS_REGION,
      credentials,
    });
    const provisioned = await provisionKeys({
      manifest: options.manifest,
      flxbl,
      secrets: secretsClient,
      secretName,
      keyPrefix: `${appName}/${stage}`,
      // These secrets are npm start's own: one a developer deleted comes back working.
      scheduledForDeletion: "restore",
    }).catch((err: unknown) => {
      if (!options.flxbl || !isUnreachable(err)) throw err;
      throw new Error(
        `Could not reach FLXBL at ${options.flxbl.url} (FLXBL_URL) to provision keys: ${connectionFailure(err)?.code}. Check FLXBL_URL in .env, or leave it empty to use the emulator.`,
        { cause: err },
      );
    });
    // As the Keys stack deploys it: the admin key in its own secret, read by the rotation function
    // only, and every function secret set to rotate with it (on request here, not on a schedule).
    const adminSecret = adminSecretName(deployment);
    await writeAdminSecret(secretsClient, adminSecret, flxbl.adminKey);
    const rotationArn = `arn:aws:lambda:${aws.AWS_REGION}:000000000000:function:${appName}-${stage}-${rotationFunction.name}`;
    for (const spec of options.manifest) {
      await secretsClient.send(
        new RotateSecretCommand({
          SecretId: secretName(spec.name),
          RotationLambdaARN: rotationArn,
          RotationRules: { ScheduleExpression: "rate(30 days)" },
          RotateImmediately: false,
        }),
      );
    }

    // Every invocation with its log lines, for the console (in memory, the last 200).
    const recorder = new InvocationRecorder({ limit: 200 });
    // A function's lines go to the terminal and to its invocation in the console, metric documents compacted.
    const output = (fn: string) => (line: string) => {
      const shown = compactMetricLine(line) ?? line;
      recorder.log(fn, shown);
      functionLog(fn, shown);
    };
    // Each function's FLXBL calls, watched inside its process, for the console.
    const flxblCalls = (fn: string) =>
      options.recordFlxblCalls
        ? (requestId: string | undefined, call: FlxblCall) => recorder.flxblCall(fn, call, requestId)
        : undefined;
    const hosts = new Map<string, FunctionHost>();
    for (const spec of options.manifest) {
      const host = new FunctionHost(spec, {
        root: repoRoot.replace(/\/$/, ""),
        env: {
          ...aws,
          // As the stack writes it; `.env` values replace the manifest's (an empty one keeps it).
          ...functionEnvironment(spec, {
            flxblUrl: flxbl.url,
            secretId: secretName(spec.name),
            tableName,
            stage,
            metricsNamespace: appName,
            secretTtlSeconds: options.env?.FLXBL_SECRET_TTL_SECONDS || undefined,
            maxStaleSeconds: options.env?.FLXBL_SECRET_MAX_STALE_SECONDS || undefined,
            overrides: options.env,
          }),
        },
        onOutput: output(spec.name),
        onFlxblCall: flxblCalls(spec.name),
      });
      hosts.set(spec.name, host);
      closers.push(() => host.stop());
    }
    const rotation = new FunctionHost(rotationFunction, {
      root: repoRoot.replace(/\/$/, ""),
      env: {
        ...aws,
        ...rotationEnvironment({
          name: rotationFunction.name,
          flxblUrl: flxbl.url,
          adminSecretId: adminSecret,
          stage,
          metricsNamespace: appName,
          graceSeconds: options.env?.ROTATION_GRACE_SECONDS || undefined,
        }),
      },
      onOutput: output(rotationFunction.name),
      onFlxblCall: flxblCalls(rotationFunction.name),
    });
    closers.push(() => rotation.stop());
    // Secrets Manager invokes the rotation function once per step; a failed step fails the rotation.
    secretsManager.setRotationInvoker(async (_arn, event) => {
      const secret = event.SecretId.split(":secret:").at(-1);
      const requestId = randomUUID();
      const trigger = `${event.Step} ${secret}`;
      const id = recorder.start({ function: rotationFunction.name, kind: "rotation", trigger, requestId, event });
      const outcome = await rotation.invoke(event, requestId);
      recorder.finish(id, outcome);
      log(
        `[invoke] ${rotationFunction.name} ${outcome.requestId} ${event.Step} ${secret} -> ${
          outcome.kind === "error" ? `failed: ${outcome.error.name}: ${outcome.error.message}` : "ok"
        } (${outcome.durationMs} ms)`,
      );
      if (outcome.kind === "error") throw new Error(`${event.Step} failed: ${outcome.error.message}`);
    });
    // Cold-start every function now, so a broken handler or environment shows at once.
    await Promise.all([...hosts.values(), rotation].map((h) => h.start()));

    const routes = new Map(
      options.manifest
        .filter((s) => s.trigger.kind === "http")
        .map((s) => [describeTrigger(s), hosts.get(s.name) as FunctionHost]),
    );
    const runJob = (name: string, requestId = randomUUID()) => {
      const host = hosts.get(name);
      if (host?.spec.trigger.kind !== "schedule") throw new Error(`no job named ${name}`);
      return invokeLogged(host, scheduledEvent(name), "scheduled", { requestId });
    };
    const invokeLogged = async (
      host: FunctionHost,
      event: unknown,
      what: string,
      { requestId = randomUUID(), delivery }: { requestId?: string; delivery?: Delivery } = {},
    ) => {
      const kind = host.spec.trigger.kind === "http" ? "webhook" : "job";
      // Recorded before the first await, so whoever started it finds it at once.
      const id = recorder.start({ function: host.spec.name, kind, trigger: what, requestId, event, delivery });
      const outcome = await host.invoke(event, requestId);
      recorder.finish(id, outcome);
      const status =
        outcome.kind === "error"
          ? `failed: ${outcome.error.name}: ${outcome.error.message}`
          : host.spec.trigger.kind === "http"
            ? String((outcome.result as APIGatewayProxyStructuredResultV2)?.statusCode ?? 200)
            : "ok";
      log(`[invoke] ${host.spec.name} ${outcome.requestId} ${what} -> ${status} (${outcome.durationMs} ms)`);
      return outcome;
    };

    let info: RuntimeInfo | undefined;
    const localConsole = createConsole({
      manifest: options.manifest,
      info: () => info as RuntimeInfo,
      recorder,
      runJob: (name) => {
        const requestId = randomUUID();
        return { requestId, done: runJob(name, requestId) };
      },
      secrets: secretsClient,
      secretName,
      state: { client: stateClient, tableName },
      entities: schema.entities.map((e) => e.name),
      graceSeconds: grace,
    });
    closers.push(async () => localConsole.close());
    const server = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        log(`[gateway] ${(err as Error).message}`);
        if (!res.headersSent) sendJson(res, 500, { message: "Internal Server Error" });
      });
    });
    const handle = async (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://local");
      const refused = isLocalPath(url.pathname)
        ? localRequestRefusal(req, (server.address() as AddressInfo).port)
        : undefined;
      if (refused) return sendJson(res, 403, { message: refused });
      if (`${url.pathname}/`.startsWith(consolePath)) return localConsole.handle(req, res, url);
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const job = /^\/_local\/jobs\/([a-z0-9-]+)$/.exec(url.pathname);
      if (job && req.method === "POST") {
        if (hosts.get(job[1] as string)?.spec.trigger.kind !== "schedule")
          return sendJson(res, 404, { message: `no job named ${job[1]}` });
        const outcome = await runJob(job[1] as string);
        return outcome.kind === "result"
          ? sendJson(res, 200, outcome.result)
          : sendJson(res, 500, { errorType: outcome.error.name, errorMessage: outcome.error.message });
      }
      if (url.pathname === "/_local/health") return sendJson(res, 200, { ok: true });
      const host = routes.get(`${req.method} ${url.pathname}`);
      if (!host) return sendJson(res, 404, { message: "Not Found" });
      const event = httpApiEvent({
        method: req.method ?? "GET",
        path: url.pathname,
        rawQueryString: url.search.slice(1),
        headers: req.headers as Record<string, string | string[] | undefined>,
        body: body.length > 0 ? body : undefined,
        sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, ""),
      });
      const outcome = await invokeLogged(host, event, `${req.method} ${url.pathname}`, {
        delivery: {
          method: req.method ?? "GET",
          path: url.pathname,
          query: url.search.slice(1),
          headers: req.headers,
          body,
        },
      });
      if (outcome.kind === "error") return sendJson(res, 500, { message: "Internal Server Error" });
      writeResult(res, outcome.result);
    };
    await new Promise<void>((resolveListen, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) =>
        reject(
          err.code === "EADDRINUSE"
            ? new Error(
                `Port ${options.port ?? 3000} is in use, so the gateway cannot listen on it: stop what uses it, or set PORT in .env (0 = any free port)`,
              )
            : err,
        ),
      );
      server.listen(options.port ?? 3000, "127.0.0.1", () => resolveListen());
    });
    closers.push(
      () =>
        new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
    );
    const gatewayUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    if (options.schedules !== false) {
      const timers = new Set<NodeJS.Timeout>();
      const start = new Date();
      for (const host of hosts.values()) {
        if (host.spec.trigger.kind !== "schedule") continue;
        const schedule = parseSchedule(host.spec.trigger.expression, start);
        const arm = (after: Date) => {
          let at: Date;
          try {
            at = schedule.next(after);
          } catch {
            log(
              `[schedule] ${host.spec.name}: no more runs (${(host.spec.trigger as { expression: string }).expression})`,
            );
            return;
          }
          // Timers wait at most ~24.8 days: a run further away is reached in steps, not fired early.
          const wait = (): void => {
            const left = at.getTime() - Date.now();
            const timer = setTimeout(
              () => {
                timers.delete(timer);
                if (left > 2 ** 31 - 1) return wait();
                void invokeLogged(host, scheduledEvent(host.spec.name, at), "scheduled");
                arm(at);
              },
              Math.min(Math.max(0, left), 2 ** 31 - 1),
            );
            timers.add(timer);
          };
          wait();
        };
        arm(start);
      }
      closers.push(async () => {
        for (const t of timers) clearTimeout(t);
      });
    }

    const byName = new Map(provisioned.map((p) => [p.function, p]));
    info = {
      gatewayUrl,
      consoleUrl: `${gatewayUrl}${consolePath}`,
      flxbl,
      emulator: emulator !== undefined,
      secretsManagerUrl: secretsManager.url,
      functions: Object.fromEntries(
        options.manifest.map((spec) => [
          spec.name,
          {
            trigger: describeTrigger(spec),
            scopes: spec.scopes,
            secretName: secretName(spec.name),
            ...(spec.trigger.kind === "http"
              ? {
                  signature: (spec as WebhookSpec).signature,
                  signingSecrets: byName.get(spec.name)?.signingSecrets ?? [],
                  url: `${gatewayUrl}${spec.trigger.path}`,
                }
              : {}),
          },
        ]),
      ),
    };
    writePrivateFile(join(dataDir, "runtime.json"), `${JSON.stringify(info, null, 2)}\n`);
    return { info, provisioned, hosts, runJob, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Writes the admin key into its secret, as an operator does after deploying (`keys set-admin-key`). */
async function writeAdminSecret(client: SecretsManagerClient, name: string, adminKey: string): Promise<void> {
  const SecretString = JSON.stringify({ apiKey: adminKey });
  try {
    await client.send(new CreateSecretCommand({ Name: name, SecretString }));
  } catch (err) {
    // Scheduled for deletion (someone deleted it): restored, as npm start restores function secrets.
    if (isScheduledForDeletion(err)) await client.send(new RestoreSecretCommand({ SecretId: name }));
    else if ((err as Error).name !== "ResourceExistsException") throw err;
    const current = await client.send(new GetSecretValueCommand({ SecretId: name }));
    if (current.SecretString !== SecretString)
      await client.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
  }
}

/** The emulator's admin key for this data folder: made once, kept beside its database. */
function emulatorKey(dataDir: string): string {
  const file = join(dataDir, "emulator-admin-key");
  try {
    const key = readFileSync(file, "utf8").trim();
    if (key) return key;
  } catch {
    // First start: make one below.
  }
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const pick = (n: number) =>
    Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("");
  const key = `flxbl_${pick(8)}_${randomUUID().replaceAll("-", "")}`;
  writePrivateFile(file, `${key}\n`);
  return key;
}

/** The file a running runtime keeps in its data folder: its process id, so a second one is refused. */
const instanceFile = "npm-start.pid";

/** What `--reset` removes: the files and folders npm start keeps in its data folder, nothing else. */
const ownDataFiles = /^(emulator\.db(-.*)?|emulator-admin-key|dynamodb|secrets\.json(\..*)?|runtime\.json(\..*)?)$/;

/**
 * Claims the data folder for this process, or refuses when another live process holds it (two
 * runtimes on one folder would share dynalite's files and overwrite each other's secrets).
 * Returns what lets it go. A claim left by a process that is gone is taken over.
 */
function claimDataDir(dataDir: string): () => void {
  const file = join(dataDir, instanceFile);
  const mine = `${process.pid}\n`;
  // Written whole under another name, then linked into place (which fails if the file exists): a
  // claim is never seen half written.
  const draft = join(dataDir, `${instanceFile}.${process.pid}`);
  writeFileSync(draft, mine, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(draft, file);
        return () => {
          try {
            if (readFileSync(file, "utf8") === mine) rmSync(file, { force: true });
          } catch {
            // Already gone.
          }
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      let pid: number;
      try {
        pid = Number(readFileSync(file, "utf8").trim());
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // let go in between
        throw err;
      }
      // A live process other than this one holds it (this one's own pid is a leftover of an
      // earlier process that had the same pid, e.g. in a restarted container).
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        let where = "";
        try {
          const { gatewayUrl } = JSON.parse(readFileSync(join(dataDir, "runtime.json"), "utf8")) as RuntimeInfo;
          if (gatewayUrl) where = `, gateway on ${gatewayUrl}`;
        } catch {
          // No runtime.json yet (it is still starting): the pid says enough.
        }
        throw new Error(
          `Another npm start is running on the data folder ${dataDir} (pid ${pid}${where}). Stop it (Ctrl-C in its terminal), or give this one its own folder: LOCAL_DATA_DIR=<folder> npm start. If no npm start is running, delete ${file}`,
        );
      }
      rmSync(file, { force: true });
    }
    throw new Error(`Could not claim the data folder ${dataDir}: another npm start is starting on it`);
  } finally {
    rmSync(draft, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Starts one of the local servers, turning its failures into what to do: a port in use names the
 * server and the `.env` variable; anything else names the file it keeps its data in and how to
 * start from a clean one.
 */
async function opening<T>(
  server: { what: string; file: string; portVariable: string },
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE")
      throw new Error(
        `${server.what} cannot listen: its port is in use. Stop what uses it, or set ${server.portVariable} in .env to a free port (empty or 0 = any free port)`,
        { cause: err },
      );
    // A JSON parser's message quotes the text around the fault, and these files hold secrets.
    const reason = err instanceof SyntaxError ? "it is not valid JSON" : (err as Error).message;
    throw new Error(
      `${server.what} could not open ${server.file}: ${reason}. If the file is damaged, start from a clean data folder with npm start -- --reset (new sample data, keys and secrets), or delete ${server.file}`,
    );
  }
}

/** Files in the data folder that hold keys or secrets. */
const secretFiles = ["runtime.json", "emulator-admin-key", "secrets.json"];

/**
 * Makes the data folder, or narrows an existing one, to its owner only (0700), and narrows the
 * secret files an earlier run left in it to 0600: they hold admin keys and signing secrets.
 */
function makePrivateDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(dataDir, 0o700);
  } catch (err) {
    throw new Error(
      `LOCAL_DATA_DIR ${dataDir} must be a folder you own: it is made private (0700) because it holds keys (${(err as Error).message})`,
    );
  }
  for (const name of secretFiles) {
    try {
      chmodSync(join(dataDir, name), 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}
