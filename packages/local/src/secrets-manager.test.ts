import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalSecretsManager, startLocalSecretsManager } from "./secrets-manager.js";

const sdk = (url: string, accessKeyId = "local") =>
  new SecretsManagerClient({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId, secretAccessKey: "local-secret-access-key" },
    maxAttempts: 1,
  });

describe("local Secrets Manager endpoint, through the real AWS SDK", () => {
  let sm: LocalSecretsManager;
  let client: SecretsManagerClient;
  let counter = 0;
  const fresh = () => `app/test/fn-${++counter}`;

  beforeAll(async () => {
    sm = await startLocalSecretsManager({
      authorize: ({ accessKeyId, secretName }) => accessKeyId !== "intruder" || secretName === "public/readable",
    });
    client = sdk(sm.url);
  });
  afterAll(() => sm.close());

  it("creates a secret and reads its current value by name and by ARN", async () => {
    const name = fresh();
    const created = await client.send(new CreateSecretCommand({ Name: name, SecretString: "v1" }));
    expect(created.ARN).toMatch(
      new RegExp(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-[A-Za-z0-9_-]{6}$`),
    );
    const byName = await client.send(new GetSecretValueCommand({ SecretId: name }));
    const byArn = await client.send(new GetSecretValueCommand({ SecretId: created.ARN }));
    expect(byName.SecretString).toBe("v1");
    expect(byArn.VersionId).toBe(created.VersionId);
    expect(byName.VersionStages).toEqual(["AWSCURRENT"]);
  });

  it("answers ResourceNotFoundException for an unknown secret", async () => {
    await expect(client.send(new GetSecretValueCommand({ SecretId: "nope/never" }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
    });
  });

  it("refuses to create a secret twice", async () => {
    const name = fresh();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: "a" }));
    await expect(client.send(new CreateSecretCommand({ Name: name, SecretString: "b" }))).rejects.toMatchObject({
      name: "ResourceExistsException",
    });
  });

  it("moves AWSCURRENT to a new value and labels the old one AWSPREVIOUS", async () => {
    const name = fresh();
    const first = await client.send(new CreateSecretCommand({ Name: name, SecretString: "old" }));
    const second = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: "new" }));
    const current = await client.send(new GetSecretValueCommand({ SecretId: name }));
    const previous = await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSPREVIOUS" }));
    expect(current).toMatchObject({ SecretString: "new", VersionId: second.VersionId });
    expect(previous).toMatchObject({ SecretString: "old", VersionId: first.VersionId });
  });

  it("keeps an AWSPENDING version beside AWSCURRENT until the stage is moved", async () => {
    const name = fresh();
    const first = await client.send(new CreateSecretCommand({ Name: name, SecretString: "current" }));
    const pending = await client.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: "pending",
        ClientRequestToken: "token-1",
        VersionStages: ["AWSPENDING"],
      }),
    );
    expect((await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("current");
    expect(
      (await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSPENDING" }))).SecretString,
    ).toBe("pending");

    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: "AWSCURRENT",
        MoveToVersionId: pending.VersionId,
        RemoveFromVersionId: first.VersionId,
      }),
    );
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.VersionIdsToStages?.["token-1"]).toEqual(expect.arrayContaining(["AWSCURRENT", "AWSPENDING"]));
    expect(described.VersionIdsToStages?.[first.VersionId as string]).toEqual(["AWSPREVIOUS"]);
    expect((await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("pending");
  });

  it("treats a repeated PutSecretValue with the same token and value as the same version", async () => {
    const name = fresh();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: "a" }));
    const put = () =>
      client.send(new PutSecretValueCommand({ SecretId: name, SecretString: "b", ClientRequestToken: "same-token" }));
    const one = await put();
    const two = await put();
    expect(two.VersionId).toBe(one.VersionId);
    await expect(
      client.send(new PutSecretValueCommand({ SecretId: name, SecretString: "c", ClientRequestToken: "same-token" })),
    ).rejects.toMatchObject({ name: "ResourceExistsException" });
  });

  it("refuses to move a stage held by another version unless RemoveFromVersionId names it", async () => {
    const name = fresh();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: "a" }));
    const next = await client.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: "b", VersionStages: ["AWSPENDING"] }),
    );
    await expect(
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: "AWSCURRENT",
          MoveToVersionId: next.VersionId,
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidParameterException" });
  });

  it("lists and deletes secrets", async () => {
    const name = fresh();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: "x" }));
    const listed = await client.send(new ListSecretsCommand({}));
    expect(listed.SecretList?.map((s) => s.Name)).toContain(name);
    await client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    await expect(client.send(new GetSecretValueCommand({ SecretId: name }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
    });
  });

  it("denies a caller the authorize hook refuses, by the access key id the SDK signed with", async () => {
    const name = fresh();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: "guarded" }));
    const intruder = sdk(sm.url, "intruder");
    await expect(intruder.send(new GetSecretValueCommand({ SecretId: name }))).rejects.toMatchObject({
      name: "AccessDeniedException",
    });
  });

  it("counts calls by action", async () => {
    sm.resetCalls();
    const name = fresh();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: "x" }));
    await client.send(new GetSecretValueCommand({ SecretId: name }));
    await client.send(new GetSecretValueCommand({ SecretId: name }));
    expect(sm.calls).toEqual({ CreateSecret: 1, GetSecretValue: 2 });
  });
});
