import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { type LocalSecretsManager, startLocalSecretsManager } from "@flxbl-lambda/aws-local";
import { FlxblAdmin } from "@flxbl-lambda/core";
import { type Emulator, startEmulator } from "@flxbl-lambda/emulator";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RuntimeInfo } from "./runtime.js";
import { isolatedEnv, printed, runKeys } from "./test-fixtures/keys-cli.js";

const schema = JSON.parse(
  readFileSync(new URL("../../functions/flxbl/schema.json", import.meta.url), "utf8"),
) as unknown;

const client = (sm: LocalSecretsManager) =>
  new SecretsManagerClient({
    endpoint: sm.url,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });

describe("npm run keys against an AWS stage, refusing what it must", () => {
  let sm: LocalSecretsManager;
  let secrets: SecretsManagerClient;
  /** The child's environment: bogus credentials, and Secrets Manager calls to the local endpoint. */
  let env: NodeJS.ProcessEnv;
  const adminValue = async (stage: string) =>
    (await secrets.send(new GetSecretValueCommand({ SecretId: `flxbl-lambda/${stage}/admin` }))).SecretString;

  beforeEach(async () => {
    sm = await startLocalSecretsManager();
    secrets = client(sm);
    env = isolatedEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url });
  });
  afterEach(async () => {
    secrets.destroy();
    await sm.close();
  });

  it.each(["status", "provision"])(
    "%s --stage prod refuses FLXBL_URL=http://api.example.com/api/v1 before any AWS call",
    async (command) => {
      const run = await runKeys([command, "--stage", "prod"], {
        ...env,
        FLXBL_URL: "http://api.example.com/api/v1",
      });

      expect(run.code, printed(run)).not.toBe(0);
      expect(run.stderr, printed(run)).toContain(
        "FLXBL_URL must be https: (got http://api.example.com); the API key would travel in clear text",
      );
      expect(sm.calls).toEqual({});
    },
  );

  it("set-admin-key --stage <stage> stores the key piped to it in <app>/<stage>/admin, creating the secret, and never prints it", async () => {
    const key = `flxbl_admin_${randomBytes(16).toString("hex")}`;

    const run = await runKeys(["set-admin-key", "--stage", "keys-create"], env, `${key}\n`);

    expect(run.code, printed(run)).toBe(0);
    expect(run.stdout.trim()).toBe("Stored the admin key in flxbl-lambda/keys-create/admin");
    expect((run.stdout + run.stderr).includes(key)).toBe(false);
    expect(await adminValue("keys-create")).toBe(JSON.stringify({ apiKey: key }));
  });

  it("set-admin-key --stage <stage> replaces the key in an admin secret that exists (as the Keys stack deploys it)", async () => {
    await secrets.send(
      new CreateSecretCommand({
        Name: "flxbl-lambda/keys-update/admin",
        SecretString: JSON.stringify({ apiKey: "", signingSecrets: [] }),
      }),
    );
    const key = `flxbl_admin_${randomBytes(16).toString("hex")}`;

    const run = await runKeys(["set-admin-key", "--stage", "keys-update"], env, key);

    expect(run.code, printed(run)).toBe(0);
    expect((run.stdout + run.stderr).includes(key)).toBe(false);
    expect(await adminValue("keys-update")).toBe(JSON.stringify({ apiKey: key }));
  });

  it("set-admin-key with nothing on standard input exits non-zero naming the fix, and writes nothing", async () => {
    const run = await runKeys(["set-admin-key", "--stage", "keys-empty"], env, " \n");

    expect(run.code, printed(run)).not.toBe(0);
    expect(run.stderr, printed(run)).toContain(
      "No admin key on standard input: pipe it in (e.g. from a file) or type it at the prompt",
    );
    expect(sm.calls).toEqual({});
  });

  it("set-admin-key --local is refused: npm start writes the local admin secret itself", async () => {
    const run = await runKeys(["set-admin-key", "--local"], env, "flxbl_admin_not_wanted\n");

    expect(run.code, printed(run)).not.toBe(0);
    expect(run.stderr, printed(run)).toContain(
      "npm start writes the local admin secret itself; set-admin-key is for AWS stages",
    );
    expect(sm.calls).toEqual({});
  });
});

describe("npm run keys -- provision --local, with a webhook's short signing secret in its secret", () => {
  let dataDir: string;
  let flxbl: Emulator;
  let sm: LocalSecretsManager;
  let secrets: SecretsManagerClient;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "flxbl-keys-cli-"));
    [flxbl, sm] = await Promise.all([startEmulator({ schema }), startLocalSecretsManager()]);
    secrets = client(sm);
    // What the CLI reads of a running npm start: FLXBL and the Secrets Manager endpoint.
    const info: RuntimeInfo = {
      gatewayUrl: "http://127.0.0.1:9",
      flxbl: { url: flxbl.url, adminKey: flxbl.adminKey },
      emulator: true,
      secretsManagerUrl: sm.url,
      functions: {},
    };
    writeFileSync(join(dataDir, "runtime.json"), JSON.stringify(info), { mode: 0o600 });
  });
  afterAll(async () => {
    secrets?.destroy();
    await Promise.all([flxbl?.close(), sm?.close()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("exits non-zero naming the function, its secret and the fix (never the value), and creates no key", async () => {
    const short = `whsec_${randomBytes(16).toString("base64")}`;
    await secrets.send(
      new CreateSecretCommand({
        Name: "flxbl-lambda/local/inventory-webhook",
        SecretString: JSON.stringify({ apiKey: "", signingSecrets: [short] }),
      }),
    );

    const run = await runKeys(["provision", "--local"], isolatedEnv({ LOCAL_DATA_DIR: dataDir }));

    expect(run.code, printed(run)).not.toBe(0);
    expect(run.stderr, printed(run)).toContain(
      "inventory-webhook: signingSecrets[0] in secret flxbl-lambda/local/inventory-webhook gives 16 bytes of key; at least 24 are needed",
    );
    expect(run.stderr, printed(run)).toContain("Fix: replace each with a secret of at least 24 bytes of key");
    expect((run.stdout + run.stderr).includes(short.slice("whsec_".length))).toBe(false);
    expect(await new FlxblAdmin({ baseUrl: flxbl.url, adminKey: flxbl.adminKey }).listKeys()).toEqual([]);
    expect((await secrets.send(new ListSecretsCommand({}))).SecretList?.map((s) => s.Name)).toEqual([
      "flxbl-lambda/local/inventory-webhook",
    ]);
  });
});

describe("npm run keys --local, with a function's secret scheduled for deletion", () => {
  let dataDir: string;
  let flxbl: Emulator;
  let sm: LocalSecretsManager;
  let secrets: SecretsManagerClient;
  const local = (command: string) => runKeys([command, "--local"], isolatedEnv({ LOCAL_DATA_DIR: dataDir }));

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "flxbl-keys-cli-"));
    [flxbl, sm] = await Promise.all([startEmulator({ schema }), startLocalSecretsManager()]);
    secrets = client(sm);
    const info: RuntimeInfo = {
      gatewayUrl: "http://127.0.0.1:9",
      flxbl: { url: flxbl.url, adminKey: flxbl.adminKey },
      emulator: true,
      secretsManagerUrl: sm.url,
      functions: {},
    };
    writeFileSync(join(dataDir, "runtime.json"), JSON.stringify(info), { mode: 0o600 });
  });
  afterAll(async () => {
    secrets?.destroy();
    await Promise.all([flxbl?.close(), sm?.close()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("status names it and exits non-zero; provision restores it and keeps its working key", async () => {
    const provisioned = await local("provision");
    expect(provisioned.code, printed(provisioned)).toBe(0);
    await secrets.send(
      new DeleteSecretCommand({ SecretId: "flxbl-lambda/local/inventory-webhook", RecoveryWindowInDays: 7 }),
    );

    const status = await local("status");
    const again = await local("provision");

    expect(status.code, printed(status)).not.toBe(0);
    expect(status.stdout, printed(status)).toMatch(
      /^inventory-webhook +no +- +- +scheduled for deletion: restore it, then provision$/m,
    );
    expect(again.code, printed(again)).toBe(0);
    expect(again.stdout, printed(again)).toMatch(
      /^inventory-webhook +kept +restored from scheduled deletion; working key with the manifest's scopes$/m,
    );
    const described = await secrets.send(
      new DescribeSecretCommand({ SecretId: "flxbl-lambda/local/inventory-webhook" }),
    );
    expect(described.DeletedDate).toBeUndefined();
  }, 60_000);
});
