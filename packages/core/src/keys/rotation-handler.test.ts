import { randomUUID } from "node:crypto";
import { CreateSecretCommand, RotateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type LocalSecretsManager, startLocalSecretsManager } from "@flxbl-lambda/aws-local";
import { type Emulator, startEmulator } from "@flxbl-lambda/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appSchema } from "../../../emulator/src/test-helpers.js";
import { createLogger } from "../log/logger.js";
import { metricNames } from "../observe/catalog.js";
import { lambdaContext } from "../testing/lambda-events.js";
import { captureMetrics } from "../testing/metrics-capture.js";
import { FlxblAdmin } from "./admin.js";
import type { RotationEvent } from "./rotation.js";
import { rotationHandler } from "./rotation-handler.js";

const prefix = "flxbl-lambda/test/";
const scopes = ["entity:Order:read"];
const rotationArn = "arn:aws:lambda:us-east-1:000000000000:function:rotate-key";

describe("the rotation function's metrics: rotations started, finished and failed", () => {
  let flxbl: Emulator;
  let sm: LocalSecretsManager;
  let secrets: SecretsManagerClient;
  let admin: FlxblAdmin;
  /** Each EMF document the rotation function wrote, with the step that wrote it. */
  const written: Array<{ step: string; doc: Record<string, unknown> }> = [];

  beforeAll(async () => {
    flxbl = await startEmulator({ schema: appSchema });
    sm = await startLocalSecretsManager();
    secrets = new SecretsManagerClient({
      endpoint: sm.url,
      region: "us-east-1",
      credentials: { accessKeyId: "rotation", secretAccessKey: "local" },
    });
    admin = new FlxblAdmin({ baseUrl: flxbl.url, adminKey: flxbl.adminKey });
    const adminSecretId = `${prefix}admin-${randomUUID()}`;
    await secrets.send(
      new CreateSecretCommand({ Name: adminSecretId, SecretString: JSON.stringify({ apiKey: flxbl.adminKey }) }),
    );
    const handler = rotationHandler({
      flxblUrl: flxbl.url,
      adminSecretId,
      scopesFor: (name) => (name.startsWith(`${prefix}fn-`) ? scopes : undefined),
      graceMs: 0,
      secrets,
      logger: createLogger({ serviceName: "rotate-key", logLevel: "SILENT" }),
    });
    // Secrets Manager invokes the function once per step, as it would in AWS.
    sm.setRotationInvoker(async (_arn, event) => {
      let failure: unknown;
      const { documents } = await captureMetrics(() =>
        handler(event as RotationEvent, lambdaContext({ functionName: "rotate-key", timeoutSeconds: 900 })).catch(
          (err: unknown) => {
            failure = err;
          },
        ),
      );
      for (const doc of documents) written.push({ step: event.Step, doc });
      if (failure) throw failure;
    });
  });
  afterAll(async () => {
    await flxbl.close();
    await sm.close();
  });

  /** A function secret with a live key, set to rotate. */
  async function provisioned(name: string) {
    const created = await admin.createKey(name, scopes);
    await secrets.send(
      new CreateSecretCommand({
        Name: name,
        SecretString: JSON.stringify({ apiKey: created.key, keyId: created.id, signingSecrets: [] }),
      }),
    );
    await secrets.send(
      new RotateSecretCommand({ SecretId: name, RotationLambdaARN: rotationArn, RotateImmediately: false }),
    );
  }

  it("counts one started (createSecret) and one finished (finishSecret) for a rotation that succeeds", async () => {
    const name = `${prefix}fn-${randomUUID()}`;
    await provisioned(name);
    written.length = 0;

    await secrets.send(new RotateSecretCommand({ SecretId: name }));
    await sm.rotationsSettled();

    const main = (step: string) => written.find((w) => w.step === step && !("operation" in w.doc))?.doc;
    const operations = (step: string) =>
      Object.fromEntries(
        written
          .filter((w) => w.step === step && "operation" in w.doc)
          .map(({ doc }) => [doc.operation, doc[metricNames.flxbl.calls]]),
      );
    expect(main("createSecret")).toMatchObject({ [metricNames.rotation.started]: 1, service: "rotate-key" });
    expect(main("finishSecret")).toMatchObject({ [metricNames.rotation.finished]: 1 });
    expect(written.some(({ doc }) => metricNames.rotation.failed in doc)).toBe(false);
    // Its FLXBL calls are counted like any function's: the new key made, the old one found and revoked.
    expect(operations("createSecret")).toMatchObject({ "ApiKey:create": 1 });
    expect(operations("finishSecret")).toMatchObject({ "ApiKey:read": expect.any(Number), "ApiKey:delete": 1 });
  });

  it("counts a failed step, also by step, for a secret the manifest does not name", async () => {
    const name = `${prefix}other-${randomUUID()}`;
    await provisioned(name);
    written.length = 0;

    await secrets.send(new RotateSecretCommand({ SecretId: name })).catch(() => undefined);
    await sm.rotationsSettled();

    const failed = written.filter(({ doc }) => metricNames.rotation.failed in doc).map(({ doc }) => doc);
    expect(failed).toEqual([
      expect.objectContaining({ [metricNames.rotation.failed]: 1 }),
      expect.objectContaining({ [metricNames.rotation.failed]: 1, step: "createSecret" }),
    ]);
    expect(written.some(({ doc }) => metricNames.rotation.started in doc)).toBe(false);
  });
});
