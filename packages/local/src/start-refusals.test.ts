import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { startLocalSecretsManager } from "@flxbl-lambda/aws-local";
import { manifest } from "@flxbl-lambda/functions";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startRuntime } from "./runtime.js";

/** What `npm start` refuses to start with; `cli.ts` prints the rejection as `npm start failed: <message>`. */
describe("startRuntime (npm start) refuses to start", () => {
  let dataDir: string;
  const lines: string[] = [];
  const start = (options: Partial<Parameters<typeof startRuntime>[0]> = {}) =>
    startRuntime({
      manifest,
      port: 0,
      dataDir,
      schedules: false,
      log: (line) => lines.push(line),
      functionLog: (fn, line) => lines.push(`${fn} | ${line}`),
      ...options,
    });
  /** Why start failed; a runtime that started after all is closed, so a failing test leaves nothing running. */
  const startError = (options: Partial<Parameters<typeof startRuntime>[0]> = {}) =>
    start(options).then(
      async (runtime) => {
        await runtime.close();
        return undefined;
      },
      (err: unknown) => err as Error,
    );

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), "flxbl-start-refusals-"));
  });
  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("with FLXBL_URL=http://api.example.com/api/v1 and an admin key, naming https:", async () => {
    const err = await startError({ flxbl: { url: "http://api.example.com/api/v1", adminKey: "x" } });

    expect(err?.message).toBe(
      "FLXBL_URL must be https: (got http://api.example.com); the API key would travel in clear text (http: is accepted only on a loopback host, for local runs). Set FLXBL_URL to an https: URL, or leave it unset to use the emulator.",
    );
    expect(existsSync(join(dataDir, "runtime.json"))).toBe(false);
  });

  it("with a rotation grace period a cached key could outlive, naming both settings", async () => {
    const err = await startError({ env: { FLXBL_SECRET_TTL_SECONDS: "60", ROTATION_GRACE_SECONDS: "60" } });

    expect(err?.message).toMatch(/ROTATION_GRACE_SECONDS \(60\) must be longer than FLXBL_SECRET_TTL_SECONDS \(60\)/);
    expect(existsSync(join(dataDir, "runtime.json"))).toBe(false);
  });

  it("when a webhook's secret in the data folder holds a signing secret shorter than 24 bytes of key", async () => {
    // As an earlier run (or a hand edit) could have left the local Secrets Manager's file.
    const short = `whsec_${randomBytes(12).toString("base64")}`;
    const sm = await startLocalSecretsManager({ persistPath: join(dataDir, "secrets.json") });
    const secrets = new SecretsManagerClient({
      endpoint: sm.url,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    await secrets.send(
      new CreateSecretCommand({
        Name: "flxbl-lambda/local/inventory-webhook",
        SecretString: JSON.stringify({ apiKey: "", signingSecrets: [short] }),
      }),
    );
    secrets.destroy();
    await sm.close();

    const err = await startError();

    expect(err?.message).toContain(
      "inventory-webhook: signingSecrets[0] in secret flxbl-lambda/local/inventory-webhook gives 12 bytes of key; at least 24 are needed",
    );
    expect(err?.message).toContain("Fix: replace each with a secret of at least 24 bytes of key");
    expect(err?.message.includes(short.slice("whsec_".length))).toBe(false);
    expect(existsSync(join(dataDir, "runtime.json"))).toBe(false);
  }, 30_000);

  it("--reset with a real FLXBL, whose keys forgetting the secrets would leave working", async () => {
    writeFileSync(join(dataDir, "secrets.json"), "[]");
    const err = await startError({ reset: true, flxbl: { url: "https://api.flxbl.example/api/v1", adminKey: "k" } });

    expect(err?.message).toMatch(/^npm start -- --reset is for the emulator: with FLXBL_URL set/);
    expect(existsSync(join(dataDir, "secrets.json"))).toBe(true);
  });

  it("--reset removes only npm start's own files from the data folder", async () => {
    writeFileSync(join(dataDir, "notes.txt"), "mine");
    writeFileSync(join(dataDir, "secrets.json"), "{ damaged");
    const runtime = await start({ reset: true });
    await runtime.close();

    expect(readFileSync(join(dataDir, "notes.txt"), "utf8")).toBe("mine");
    expect(JSON.parse(readFileSync(join(dataDir, "secrets.json"), "utf8"))).toEqual(expect.any(Array));
    expect(lines).toContain(`Reset ${dataDir}: a new emulator database, new keys and secrets`);
  }, 60_000);
});
