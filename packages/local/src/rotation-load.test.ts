import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { FlxblAdmin, signStandardWebhook, startRotation } from "@flxbl-lambda/core";
import { manifest } from "@flxbl-lambda/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Runtime, startRuntime } from "./runtime.js";

describe("key rotation under load, through the local runtime", () => {
  let runtime: Runtime;
  let dataDir: string;
  const lines: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "flxbl-rotation-"));
    runtime = await startRuntime({
      manifest,
      port: 0,
      dataDir,
      schedules: false,
      // The rotation function's grace period (2 s) outlasts this cache TTL, as the real defaults
      // do (360 s > 300 s).
      env: { FLXBL_SECRET_TTL_SECONDS: "1", ROTATION_GRACE_SECONDS: "2" },
      log: (line) => lines.push(line),
      functionLog: () => undefined,
    });
  }, 60_000);
  afterAll(async () => {
    await runtime?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("rotates a webhook's and a job's keys with RotateSecret while both are invoked continuously, with no failed invocation", async () => {
    const { info } = runtime;
    const secrets = new SecretsManagerClient({
      endpoint: info.secretsManagerUrl,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    const admin = new FlxblAdmin({ baseUrl: info.flxbl.url, adminKey: info.flxbl.adminKey });
    const keyIdOf = async (fn: string) =>
      (
        JSON.parse(
          (await secrets.send(new GetSecretValueCommand({ SecretId: info.functions[fn]?.secretName }))).SecretString ??
            "{}",
        ) as { keyId: string }
      ).keyId;
    const rotated = ["inventory-webhook", "expire-stale-orders"];
    const oldKeys = await Promise.all(rotated.map(keyIdOf));
    const inventory = info.functions["inventory-webhook"];
    const secret = inventory?.signingSecrets?.[0] as string;

    const statuses: Record<string, number[]> = { webhook: [], job: [] };
    let version = 1_000;
    let running = true;
    const webhookLoop = async () => {
      while (running) {
        const body = JSON.stringify({
          type: "inventory.updated",
          timestamp: new Date().toISOString(),
          data: { sku: "TEE-BLK-M", quantity: version % 50, version: version++ },
        });
        const res = await fetch(inventory?.url as string, {
          method: "POST",
          headers: { "content-type": "application/json", ...signStandardWebhook(`msg_${randomUUID()}`, body, secret) },
          body,
        });
        await res.arrayBuffer();
        statuses.webhook?.push(res.status);
      }
    };
    const jobLoop = async () => {
      while (running) {
        const res = await fetch(`${info.gatewayUrl}/_local/jobs/expire-stale-orders`, { method: "POST" });
        const summary = (await res.json()) as { failed?: number; complete?: boolean };
        statuses.job?.push(res.status === 200 && summary.failed === 0 ? 200 : res.status === 200 ? 599 : res.status);
      }
    };
    const load = Promise.all([webhookLoop(), webhookLoop(), jobLoop()]);

    await new Promise((r) => setTimeout(r, 500));
    // As `aws secretsmanager rotate-secret` does: Secrets Manager runs the rotation function's steps.
    const started = await Promise.all(
      rotated.map((fn) => startRotation(secrets, info.functions[fn]?.secretName as string, { pollMs: 100 })),
    );
    // Keep the load on past the revocation (the grace period after promotion), so warm
    // containers meet the revoked key.
    const revoked = async () => {
      const live = new Set((await admin.listKeys()).map((k) => k.id));
      return oldKeys.every((old) => !live.has(old));
    };
    for (let waited = 0; !(await revoked()) && waited < 15_000; waited += 200)
      await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 1_500));
    running = false;
    await load;

    expect(started.every((s) => s.promoted)).toBe(true);
    const live = new Set((await admin.listKeys()).map((k) => k.id));
    const newKeys = await Promise.all(rotated.map(keyIdOf));
    expect(statuses.webhook?.length).toBeGreaterThan(20);
    expect(statuses.job?.length).toBeGreaterThan(3);
    expect(statuses.webhook?.filter((s) => s !== 200)).toEqual([]);
    expect(statuses.job?.filter((s) => s !== 200)).toEqual([]);
    for (const old of oldKeys) expect(live.has(old)).toBe(false);
    for (const [i, fresh] of newKeys.entries()) {
      expect(fresh).not.toBe(oldKeys[i]);
      expect(live.has(fresh)).toBe(true);
    }
    expect(lines.filter((l) => l.includes("failed:"))).toEqual([]);
  }, 60_000);
});
