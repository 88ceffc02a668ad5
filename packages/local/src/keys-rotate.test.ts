import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { FlxblAdmin, signStandardWebhook } from "@flxbl-lambda/core";
import { manifest } from "@flxbl-lambda/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Runtime, startRuntime } from "./runtime.js";
import { isolatedEnv, printed, runKeys } from "./test-fixtures/keys-cli.js";

/** A function secret as rotation and provisioning write it, plus whatever else a writer put in. */
type Stored = { apiKey: string; keyId: string; signingSecrets?: string[] } & Record<string, unknown>;

/** A digest to compare secrets by, so a failed assertion never prints one. */
const digest = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex");
const sorted = (scopes: readonly string[]) => [...scopes].sort();
const scopesOf = (fn: string) => manifest.find((s) => s.name === fn)?.scopes ?? [];

/** Polls `done` every 100 ms for up to `timeoutMs`; answers whether it came true. */
async function eventually(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 100)))
    if (await done()) return true;
  return done();
}

describe("npm run keys -- rotate --local, against a running local runtime", () => {
  let runtime: Runtime;
  let dataDir: string;
  let secrets: SecretsManagerClient;
  let admin: FlxblAdmin;
  /** The runtime's and its functions' lines: shown only when an assertion fails. */
  const lines: string[] = [];
  const logTail = () => `--- runtime log (last 40 lines)\n${lines.slice(-40).join("\n")}`;
  const secretName = (fn: string) => `flxbl-lambda/local/${fn}`;
  const read = async (fn: string): Promise<Stored> =>
    JSON.parse(
      (await secrets.send(new GetSecretValueCommand({ SecretId: secretName(fn) }))).SecretString ?? "{}",
    ) as Stored;
  const put = (fn: string, value: unknown) =>
    secrets.send(new PutSecretValueCommand({ SecretId: secretName(fn), SecretString: JSON.stringify(value) }));
  /** `npm run keys -- rotate --local --function <fn>`, finding the runtime through LOCAL_DATA_DIR only. */
  const rotate = (fn: string, ...more: string[]) =>
    runKeys(["rotate", "--local", "--function", fn, ...more], isolatedEnv({ LOCAL_DATA_DIR: dataDir }));
  let version = 20_000;
  /** A signed inventory.updated delivery through the gateway; answers its status. */
  const deliverInventory = async () => {
    const fn = runtime.info.functions["inventory-webhook"];
    const body = JSON.stringify({
      type: "inventory.updated",
      timestamp: new Date().toISOString(),
      data: { sku: "TEE-BLK-M", quantity: 40, version: version++ },
    });
    const res = await fetch(fn?.url as string, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...signStandardWebhook(`msg_${randomUUID()}`, body, fn?.signingSecrets?.[0] as string),
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return res.status;
  };
  /** Runs the expiry job as its schedule would; answers whether it ran with no failure. */
  const expiryJobSucceeds = async () => {
    const outcome = await runtime.runJob("expire-stale-orders");
    return outcome.kind === "result" && (outcome.result as { failed?: number }).failed === 0;
  };

  /** npm start on `dataDir` (again, after a restart: its secrets file is kept). */
  const start = async () => {
    runtime = await startRuntime({
      manifest,
      port: 0,
      dataDir,
      schedules: false,
      // The grace period must outlast the functions' secret cache TTL (the Keys stack refuses
      // otherwise), so no warm function is left holding a revoked key: 2 s > 1 s.
      env: { ROTATION_GRACE_SECONDS: "2", FLXBL_SECRET_TTL_SECONDS: "1" },
      log: (line) => lines.push(line),
      functionLog: (fn, line) => lines.push(`${fn} | ${line}`),
    });
    secrets?.destroy();
    secrets = new SecretsManagerClient({
      endpoint: runtime.info.secretsManagerUrl,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    admin = new FlxblAdmin({ baseUrl: runtime.info.flxbl.url, adminKey: runtime.info.flxbl.adminKey });
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "flxbl-keys-rotate-"));
    await start();
  }, 60_000);
  afterAll(async () => {
    secrets?.destroy();
    await runtime?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("rotates a tampered secret to a key with exactly the manifest's scopes, leaves the key it names alone and revokes only its own old key", async () => {
    const rotated = "inventory-webhook";
    const other = "expire-stale-orders";
    // Both functions warm, holding their keys.
    expect(await deliverInventory(), logTail()).toBe(200);
    expect(await expiryJobSucceeds(), logTail()).toBe(true);
    const before = await read(rotated);
    const otherSecret = await read(other);
    // What an attacker who may write the secret would do: claim every scope, and point the key
    // ids at another function's key, hoping rotation mints that and revokes this.
    await put(rotated, {
      ...before,
      scopes: ["entity:*:*"],
      keyId: otherSecret.keyId,
      previousKeyId: otherSecret.keyId,
    });

    const run = await rotate(rotated);

    expect(run.code, `${printed(run)}\n${logTail()}`).toBe(0);
    expect(run.stdout, printed(run)).toMatch(/^inventory-webhook: version \S+ is AWSCURRENT;/m);
    const after = await read(rotated);
    const minted = (await admin.listKeys()).find((k) => k.id === after.keyId);
    expect(minted?.name).toMatch(/^flxbl-lambda\/local\/inventory-webhook@/);
    expect(sorted(minted?.scopes ?? [])).toEqual(sorted(scopesOf(rotated)));
    expect(Object.keys(after).sort()).toEqual(["apiKey", "keyId", "signingSecrets"]);
    expect(digest(after.signingSecrets) === digest(before.signingSecrets)).toBe(true);
    expect(await admin.keyWorks(after.apiKey, scopesOf(rotated))).toBe(true);

    // After the grace period: the rotated function's old key revoked, the other's untouched.
    const oldRevoked = await eventually(
      async () => !(await admin.listKeys()).some((k) => k.id === before.keyId),
      10_000,
    );
    expect(oldRevoked, logTail()).toBe(true);
    expect(await admin.keyWorks(before.apiKey, scopesOf(rotated))).toBe(false);
    expect((await admin.listKeys()).map((k) => k.id)).toContain(otherSecret.keyId);
    expect(await admin.keyWorks(otherSecret.apiKey, scopesOf(other))).toBe(true);
    expect(digest(await read(other)) === digest(otherSecret)).toBe(true);

    // And both functions still work, the rotated one on its new key.
    expect(await deliverInventory(), logTail()).toBe(200);
    expect(await expiryJobSucceeds(), logTail()).toBe(true);
    expect(lines.filter((line) => line.includes("failed:"))).toEqual([]);
  }, 30_000);

  it("exits non-zero naming where to look when the rotation fails (a secret that holds no key yet, as the Keys stack deploys it)", async () => {
    const fn = "low-stock-alerts";
    const placeholder = { apiKey: "", signingSecrets: [] };
    await put(fn, placeholder);

    const run = await rotate(fn, "--wait", "3");

    expect(run.code, printed(run)).not.toBe(0);
    expect(run.stderr, printed(run)).toMatch(
      /^low-stock-alerts: version \S+ is not AWSCURRENT after 3 s: the rotation failed or is still running, and the function keeps its current key\. See the rotation function's lines \(rotate-key\) in the npm start terminal\.$/m,
    );
    expect(lines.join("\n")).toMatch(
      /\[invoke\] rotate-key \S+ createSecret flxbl-lambda\/local\/low-stock-alerts-\S+ -> failed: .*holds no FLXBL key yet: run `npm run keys -- provision` first/,
    );
    expect(digest(await read(fn)) === digest(placeholder)).toBe(true);

    // Asked again, Secrets Manager answers that the first rotation is unfinished: said at once.
    const again = await rotate(fn, "--wait", "3");

    expect(again.code, printed(again)).not.toBe(0);
    expect(again.stderr, printed(again)).toContain(
      "low-stock-alerts: RotateSecret flxbl-lambda/local/low-stock-alerts failed: A previous rotation isn't complete. That rotation will be reattempted. See the rotation function's lines (rotate-key) in the npm start terminal.",
    );
  }, 30_000);

  it("exits non-zero naming the fix when the function's secret is scheduled for deletion", async () => {
    await secrets.send(new DeleteSecretCommand({ SecretId: secretName("inventory-webhook"), RecoveryWindowInDays: 7 }));

    const run = await rotate("inventory-webhook");

    expect(run.code, printed(run)).not.toBe(0);
    expect(run.stderr, printed(run)).toContain(
      "inventory-webhook: secret flxbl-lambda/local/inventory-webhook is scheduled for deletion: restart npm start, which restores and provisions it",
    );

    // As it says: npm start again, on the same data folder, restores it (and the admin secret) and the webhook answers.
    await secrets.send(new DeleteSecretCommand({ SecretId: "flxbl-lambda/local/admin", RecoveryWindowInDays: 7 }));
    await runtime.close();
    await start();

    expect(await deliverInventory(), logTail()).toBe(200);
    expect((await read("inventory-webhook")).apiKey).toBeTruthy();
  }, 60_000);

  it("exits non-zero naming the fix when the function has no secret", async () => {
    await secrets.send(
      new DeleteSecretCommand({ SecretId: secretName("payments-webhook"), ForceDeleteWithoutRecovery: true }),
    );

    const run = await rotate("payments-webhook");

    expect(run.code, printed(run)).not.toBe(0);
    expect(run.stderr, printed(run)).toContain(
      "payments-webhook: no secret flxbl-lambda/local/payments-webhook: restart npm start, which creates and provisions it",
    );
  }, 30_000);
});
