import { parseArgs } from "node:util";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { FlxblAdmin, rotateNow, SecretLoader } from "@flxbl-lambda/core";
import { appName, manifest } from "@flxbl-lambda/functions";
import { provisionKeys, readSecret } from "./provision.js";
import { readRuntimeInfo } from "./runtime-info.js";

const usage = `usage: npm run keys -- <provision|status|rotate> --stage <stage> [--local] [--function <name>] [--grace <seconds>]

  provision  give every manifest function a FLXBL key with exactly its scopes, in its secret
  status     per function: secret, key, key works, scopes match
  rotate     rotate one function's key now (--function), as Secrets Manager's rotation would

  --local    use the running npm start (its emulator and Secrets Manager endpoint)
  otherwise  AWS credentials and region from the environment; FLXBL_URL; the admin key from
             FLXBL_ADMIN_KEY or the stage's admin secret (${appName}/<stage>/admin)`;

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
  if (!url) throw new Error("Set FLXBL_URL (e.g. https://api.flxbl.dev/api/v1), or use --local");
  const secrets = new SecretsManagerClient({});
  const adminKey =
    process.env.FLXBL_ADMIN_KEY ||
    (await new SecretLoader({ secretId: `${appName}/${stage}/admin`, client: secrets }).get()).apiKey;
  return { secrets, flxbl: { url, adminKey } };
}

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      stage: { type: "string" },
      local: { type: "boolean", default: false },
      function: { type: "string" },
      grace: { type: "string", default: "360" },
    },
  });
  const command = positionals[0];
  const stage = values.local ? "local" : values.stage;
  if (!command || !stage) throw new Error(usage);
  const { secrets, flxbl } = await connect(stage, values.local);
  const admin = new FlxblAdmin({ baseUrl: flxbl.url, adminKey: flxbl.adminKey });
  const secretName = (fn: string) => `${appName}/${stage}/${fn}`;

  if (command === "provision") {
    const results = await provisionKeys({ manifest, flxbl, secrets, secretName, keyPrefix: `${appName}/${stage}` });
    for (const r of results) console.log(`${r.function.padEnd(22)} ${r.action.padEnd(8)} ${r.reason}`);
    return;
  }
  if (command === "status") {
    const listed = await admin.listKeys();
    let healthy = true;
    console.log(`${"function".padEnd(22)} ${"secret".padEnd(7)} ${"key".padEnd(5)} ${"works".padEnd(6)} scopes`);
    for (const spec of manifest) {
      const stored = await readSecret(secrets, secretName(spec.name));
      const hasKey = Boolean(stored?.apiKey);
      const works = hasKey && stored ? await admin.keyWorks(stored.apiKey, spec.scopes) : false;
      const live = stored?.keyId ? listed.find((k) => k.id === stored.keyId) : undefined;
      const match = live
        ? [...live.scopes].sort().join(" ") === [...spec.scopes].sort().join(" ")
          ? "match"
          : `differ (FLXBL: ${live.scopes.join(" ")})`
        : "unknown key";
      healthy &&= Boolean(stored) && hasKey && works && match === "match";
      console.log(
        `${spec.name.padEnd(22)} ${(stored ? "yes" : "no").padEnd(7)} ${(hasKey ? "yes" : "no").padEnd(5)} ${(works ? "yes" : "no").padEnd(6)} ${match}`,
      );
    }
    if (!healthy) process.exitCode = 1;
    return;
  }
  if (command === "rotate") {
    const fn = values.function;
    if (!fn || !manifest.some((s) => s.name === fn))
      throw new Error(`--function must name a manifest function\n${usage}`);
    await rotateNow(secretName(fn), {
      secrets,
      admin,
      graceMs: Number(values.grace) * 1000,
      log: (message) => console.log(`${fn}: ${message}`),
    });
    return;
  }
  throw new Error(usage);
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(2);
});
