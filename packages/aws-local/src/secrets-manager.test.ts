import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
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

/** One JSON 1.1 call with exactly the Host given (fetch will not send another), to the endpoint's address. */
function call(
  url: string,
  host: string,
  action: string,
  input: unknown = {},
): Promise<{ status: number; errorType: string | undefined; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const body = JSON.stringify(input);
    const req = httpRequest(
      {
        host: hostname,
        port,
        method: "POST",
        path: "/",
        timeout: 10_000,
        headers: {
          host,
          "content-type": "application/x-amz-json-1.1",
          "x-amz-target": `secretsmanager.${action}`,
          "content-length": Buffer.byteLength(body),
          // Signed in form (the endpoint checks the parts are there, not the signature).
          authorization:
            "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
          "x-amz-date": "20260101T000000Z",
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            errorType: res.headers["x-amzn-errortype"] as string | undefined,
            body: JSON.parse(text) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${action} timed out`)));
    req.on("error", reject);
    req.end(body);
  });
}

describe("local Secrets Manager endpoint, for this machine's loopback only", () => {
  let sm: LocalSecretsManager;
  let port = 0;

  beforeAll(async () => {
    sm = await startLocalSecretsManager();
    port = Number(new URL(sm.url).port);
  });
  afterAll(() => sm.close());

  it.each([
    ["another host (DNS rebinding)", () => `evil.example:${port}`],
    ["the right host on another port", () => `127.0.0.1:${port + 1}`],
    ["localhost on another port", () => `localhost:${port - 1}`],
    ["the right host with no port", () => "127.0.0.1"],
  ])("refuses a Host naming %s with 403 AccessDeniedException, as AWS shapes errors", async (_what, host) => {
    const res = await call(sm.url, host(), "ListSecrets");

    expect(res.status).toBe(403);
    expect(res.errorType).toBe("AccessDeniedException");
    expect(res.body).toEqual({ __type: "AccessDeniedException", message: expect.stringMatching(/Host/) });
  });

  it("acts on nothing it refuses", async () => {
    const refused = await call(sm.url, `evil.example:${port}`, "CreateSecret", { Name: "rebound", SecretString: "x" });

    expect(refused.status).toBe(403);
    await expect(sdk(sm.url).send(new GetSecretValueCommand({ SecretId: "rebound" }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
    });
  });

  it.each([
    ["127.0.0.1:<port>", () => `127.0.0.1:${port}`],
    ["localhost:<port>", () => `localhost:${port}`],
    ["LOCALHOST:<port>, in any case", () => `LOCALHOST:${port}`],
    ["[::1]:<port>", () => `[::1]:${port}`],
  ])("answers a Host of %s", async (_what, host) => {
    const res = await call(sm.url, host(), "ListSecrets");

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ SecretList: expect.any(Array) });
  });

  it("answers the AWS SDK pointed at its url", async () => {
    const client = sdk(sm.url);
    await client.send(new CreateSecretCommand({ Name: "sdk/through", SecretString: "fine" }));

    const got = await client.send(new GetSecretValueCommand({ SecretId: "sdk/through" }));

    expect(got.SecretString).toBe("fine");
  });
});

describe("local Secrets Manager endpoint's secrets file", () => {
  let dir = "";
  let file = "";
  let sm: LocalSecretsManager | undefined;
  const mode = (path: string) => statSync(path).mode & 0o777;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "flxbl-sm-"));
    chmodSync(dir, 0o755);
    file = join(dir, "secrets.json");
  });
  afterAll(async () => {
    await sm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is owner-only (0600) after every write, though it and a stale .tmp beside it were 0644", async () => {
    for (const path of [file, `${file}.tmp`]) {
      writeFileSync(path, "[]");
      chmodSync(path, 0o644);
    }
    sm = await startLocalSecretsManager({ persistPath: file });
    const client = sdk(sm.url);

    await client.send(new CreateSecretCommand({ Name: "app/test/kept", SecretString: "v1" }));
    const afterCreate = mode(file);
    chmodSync(file, 0o644);
    await client.send(new PutSecretValueCommand({ SecretId: "app/test/kept", SecretString: "v2" }));

    expect([afterCreate, mode(file)]).toEqual([0o600, 0o600]);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    expect(readFileSync(file, "utf8")).toContain("v2");
  });

  it("keeps a scheduled deletion across a restart, still restorable (a recovery window outlives the process)", async () => {
    const client = sdk((sm as LocalSecretsManager).url);
    await client.send(new CreateSecretCommand({ Name: "app/test/scheduled", SecretString: "kept" }));
    await client.send(new DeleteSecretCommand({ SecretId: "app/test/scheduled", RecoveryWindowInDays: 7 }));
    await sm?.close();

    sm = await startLocalSecretsManager({ persistPath: file });
    const again = sdk(sm.url);

    await expect(again.send(new GetSecretValueCommand({ SecretId: "app/test/scheduled" }))).rejects.toMatchObject({
      name: "InvalidRequestException",
    });
    await again.send(new RestoreSecretCommand({ SecretId: "app/test/scheduled" }));
    expect((await again.send(new GetSecretValueCommand({ SecretId: "app/test/scheduled" }))).SecretString).toBe("kept");
  });

  it("does not write through a .tmp left as a link to another file", async () => {
    const elsewhere = join(dir, "elsewhere.txt");
    writeFileSync(elsewhere, "untouched");
    symlinkSync(elsewhere, `${file}.tmp`);
    const client = sdk((sm as LocalSecretsManager).url);

    await client.send(new PutSecretValueCommand({ SecretId: "app/test/kept", SecretString: "v3" }));

    expect(readFileSync(elsewhere, "utf8")).toBe("untouched");
    expect(lstatSync(file).isFile()).toBe(true);
    expect(mode(file)).toBe(0o600);
    expect(readFileSync(file, "utf8")).toContain("v3");
  });
});
