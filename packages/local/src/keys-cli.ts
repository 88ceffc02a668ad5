import { parseArgs } from "node:util";
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  adminSecretName,
  FlxblAdmin,
  flxblUrlProblem,
  functionSecretName,
  minSigningSecretBytes,
  SecretLoader,
  startRotation,
} from "@flxbl-lambda/core";
import { appName, manifest } from "@flxbl-lambda/functions";
import { isScheduledForDeletion, provisionKeys } from "@flxbl-lambda/provisioning";
import { CliError, explainFailure, isUnreachable, runCli } from "./cli-kit.js";
import { keyStatuses } from "./key-status.js";
import { gateway, readRuntimeInfo } from "./runtime-info.js";

const usage = `usage: npm run keys -- <provision|status|rotate|set-admin-key> --stage <stage> [--local] [--function <name>] [--wait <seconds>]

  provision      give every manifest function a FLXBL key with exactly its scopes, in its secret
                 (refuses webhook signing secrets shorter than ${minSigningSecretBytes} bytes of key, changing nothing)
  status         per function: secret, key, key works, scopes match
  rotate         rotate one function's key now (--function): starts the secret's rotation
                 (RotateSecret), run by the stage's rotation function, and waits (--wait, default
                 120 s) until the new version is AWSCURRENT
  set-admin-key  read the FLXBL admin key from standard input (never from the command line) and
                 store it in the stage's admin secret (${appName}/<stage>/admin)

  --local    use the running npm start (its emulator and Secrets Manager endpoint)
  otherwise  AWS credentials and region from the environment; FLXBL_URL (https:); the admin key
             from the stage's admin secret, or FLXBL_ADMIN_KEY`;

async function connect(stage: string, local: boolean) {
  if (local) {
    const info = readRuntimeInfo();
    const secrets = new SecretsManagerClient({
      endpoint: info.secretsManagerUrl,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    return { secrets, flxbl: info.flxbl };
  }
  const url = process.env.FLXBL_URL;
  if (!url)
    throw new CliError(
      "Set FLXBL_URL to the tenant's API (e.g. FLXBL_URL=https://api.flxbl.dev/api/v1 npm run keys -- status --stage prod), or use --local for npm start",
      2,
    );
  const problem = flxblUrlProblem(url, { allowLoopbackHttp: false });
  if (problem) throw new CliError(problem, 2);
  const secrets = new SecretsManagerClient({});
  const adminKey =
    process.env.FLXBL_ADMIN_KEY ||
    (await new SecretLoader({ secretId: adminSecretName({ app: appName, stage }), client: secrets }).get()).apiKey;
  return { secrets, flxbl: { url, adminKey } };
}

/** The admin key from standard input: piped, or typed at a prompt that does not echo it. */
async function readAdminKey(): Promise<string> {
  const stdin = process.stdin;
  // At a terminal: raw mode, so the key is not echoed; Enter ends it, Ctrl-C cancels.
  const ends = ["\r", "\n", "\u0004"];
  const cancel = "\u0003";
  if (stdin.isTTY) {
    process.stderr.write("FLXBL admin key (not shown): ");
    stdin.setRawMode(true);
  }
  let text = "";
  stdin.setEncoding("utf8");
  for await (const chunk of stdin) {
    text += chunk as string;
    if (stdin.isTTY && [...ends, cancel].some((c) => text.includes(c))) break;
  }
  if (stdin.isTTY) {
    stdin.setRawMode(false);
    process.stderr.write("\n");
    if (text.includes(cancel)) throw new Error("cancelled");
  }
  let key = text;
  for (const end of ends) key = key.split(end)[0] ?? "";
  key = key.trim();
  if (!key) throw new Error("No admin key on standard input: pipe it in (e.g. from a file) or type it at the prompt");
  return key;
}

const commands = ["provision", "status", "rotate", "set-admin-key"];

async function main(args: string[]) {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(args);
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${usage}`, 2);
  }
  const { positionals, values } = parsed;
  const command = positionals[0];
  if (!command) throw new CliError(usage, 2);
  if (!commands.includes(command))
    throw new CliError(`Unknown command "${command}". Commands: ${commands.join(", ")}\n${usage}`, 2);
  const stage = values.local ? "local" : values.stage;
  if (!stage) throw new CliError(`${command} needs --stage <stage> (or --local for npm start)\n${usage}`, 2);
  const secretName = (fn: string) => functionSecretName({ app: appName, stage }, fn);

  if (command === "set-admin-key") {
    if (values.local)
      throw new Error("npm start writes the local admin secret itself; set-admin-key is for AWS stages");
    const secrets = new SecretsManagerClient({});
    const name = adminSecretName({ app: appName, stage });
    const SecretString = JSON.stringify({ apiKey: await readAdminKey() });
    try {
      await secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
    } catch (err) {
      if ((err as Error).name !== "ResourceNotFoundException") throw err;
      await secrets.send(new CreateSecretCommand({ Name: name, SecretString }));
    }
    console.log(`Stored the admin key in ${name}`);
    return;
  }
  if (command === "rotate") {
    const fn = values.function;
    if (!fn || !manifest.some((s) => s.name === fn))
      throw new CliError(
        `--function must name a manifest function: ${manifest.map((s) => s.name).join(", ")}\n${usage}`,
        2,
      );
    const waitSeconds = values.wait === undefined ? 120 : Number(values.wait);
    if (!Number.isFinite(waitSeconds) || waitSeconds <= 0)
      throw new CliError(`--wait must be a number of seconds\n${usage}`, 2);
    const { secrets } = values.local ? await connect(stage, true) : { secrets: new SecretsManagerClient({}) };
    const name = secretName(fn);
    const logs = values.local
      ? "the rotation function's lines (rotate-key) in the npm start terminal"
      : "the CloudWatch Logs of the Keys stack's RotateKey function";
    console.log(`${fn}: rotation started (RotateSecret ${name})`);
    let outcome: { versionId: string; promoted: boolean };
    try {
      outcome = await startRotation(secrets, name, { waitMs: waitSeconds * 1000 });
    } catch (err) {
      const { name: type, message } = err as Error;
      if (type === "ResourceNotFoundException")
        throw new Error(
          `${fn}: no secret ${name}: ${values.local ? "restart npm start, which creates and provisions it" : `deploy the stage first (npx sst deploy --stage ${stage})`}`,
        );
      if (isScheduledForDeletion(err))
        throw new Error(
          `${fn}: secret ${name} is scheduled for deletion: ${values.local ? "restart npm start, which restores and provisions it" : `restore it (aws secretsmanager restore-secret --secret-id ${name}) and run npm run keys -- provision --stage ${stage}`}`,
        );
      throw new Error(`${fn}: RotateSecret ${name} failed: ${message.replace(/\.?$/, ".")} See ${logs}.`, {
        cause: err,
      });
    }
    if (!outcome.promoted)
      throw new Error(
        `${fn}: version ${outcome.versionId} is not AWSCURRENT after ${waitSeconds} s: the rotation failed or is still running, and the function keeps its current key. See ${logs}.`,
      );
    console.log(
      `${fn}: version ${outcome.versionId} is AWSCURRENT; the old key is revoked after the rotation's grace period`,
    );
    return;
  }

  const { secrets, flxbl } = await connect(stage, values.local);
  const admin = new FlxblAdmin({ baseUrl: flxbl.url, adminKey: flxbl.adminKey });

  if (command === "provision") {
    const results = await provisionKeys({
      manifest,
      flxbl,
      secrets,
      secretName,
      keyPrefix: `${appName}/${stage}`,
      // npm start's secrets come back (as npm start does); an AWS stage's are refused, with the fix.
      scheduledForDeletion: values.local ? "restore" : "refuse",
    });
    for (const r of results) console.log(`${r.function.padEnd(22)} ${r.action.padEnd(8)} ${r.reason}`);
    return;
  }
  if (command === "status") {
    console.log(`${"function".padEnd(22)} ${"secret".padEnd(7)} ${"key".padEnd(5)} ${"works".padEnd(6)} scopes`);
    const yesNo = (b: boolean) => (b ? "yes" : "no");
    for (const status of await keyStatuses(manifest, { secrets, admin, secretName })) {
      if (!status.healthy) process.exitCode = 1;
      if (status.secret === "scheduled for deletion") {
        console.log(
          `${status.function.padEnd(22)} ${"no".padEnd(7)} ${"-".padEnd(5)} ${"-".padEnd(6)} scheduled for deletion: restore it, then provision`,
        );
        continue;
      }
      const match = status.scopes === "differ" ? `differ (FLXBL: ${status.flxblScopes?.join(" ")})` : status.scopes;
      console.log(
        `${status.function.padEnd(22)} ${status.secret.padEnd(7)} ${yesNo(status.hasKey).padEnd(5)} ${yesNo(status.works).padEnd(6)} ${match}`,
      );
    }
    return;
  }
  throw new CliError(usage, 2);
}

function parseCommandLine(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      stage: { type: "string" },
      local: { type: "boolean", default: false },
      function: { type: "string" },
      wait: { type: "string" },
    },
  });
}

runCli(usage, (args) =>
  main(args).catch((err: unknown) => {
    // With --local, an unreachable server is the npm start that runtime.json describes.
    if (process.argv.includes("--local") && isUnreachable(err))
      throw new CliError(`${explainFailure(err)}\n${gateway.what}: ${gateway.fix}`);
    throw err;
  }),
);
