/**
 * The local Secrets Manager endpoint against the AWS Secrets Manager API reference, through the
 * real AWS SDK v3 over HTTP (raw `fetch` where the SDK would not send the request: it always signs
 * and always sends an object). Each test names the reference behaviour it mirrors.
 */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  type ListSecretsCommandInput,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalSecretsManager, maxSecretVersions, startLocalSecretsManager } from "./secrets-manager.js";

const day = 86_400_000;

describe("local Secrets Manager conforms to the AWS API reference", () => {
  let sm: LocalSecretsManager;
  let client: SecretsManagerClient;
  /** The endpoint's clock, moved by tests to end recovery windows. */
  let clock = Date.UTC(2026, 0, 1);
  let counter = 0;
  const fresh = (prefix = "conf") => `${prefix}/s-${++counter}`;
  const create = (Name: string, SecretString = "v1", extra: Partial<{ Description: string; Tags: object[] }> = {}) =>
    client.send(new CreateSecretCommand({ Name, SecretString, ...extra }));
  const list = async (input: ListSecretsCommandInput) =>
    (await client.send(new ListSecretsCommand(input))).SecretList?.map((s) => s.Name) ?? [];

  beforeAll(async () => {
    sm = await startLocalSecretsManager({ now: () => clock, rotationInvoker: async () => undefined });
    client = new SecretsManagerClient({
      endpoint: sm.url,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local-secret-access-key" },
      maxAttempts: 1,
    });
  });
  afterAll(() => sm.close());

  describe("DeleteSecret schedules the deletion (API_DeleteSecret)", () => {
    it("answers ARN, Name and a DeletionDate 30 days on when no window is given (default recovery window: 30 days)", async () => {
      const name = fresh();
      const created = await create(name);

      const deleted = await client.send(new DeleteSecretCommand({ SecretId: name }));

      expect(deleted).toMatchObject({ ARN: created.ARN, Name: name });
      expect(deleted.DeletionDate?.getTime()).toBe(clock + 30 * day);
    });

    it("takes RecoveryWindowInDays from 7 to 30 (DeletionDate: the request's date plus the window)", async () => {
      for (const days of [7, 30]) {
        const name = fresh();
        await create(name);
        const deleted = await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: days }));
        expect(deleted.DeletionDate?.getTime()).toBe(clock + days * day);
      }
    });

    it.each([6, 31, 0])("refuses RecoveryWindowInDays %i with InvalidParameterException (range 7-30)", async (days) => {
      const name = fresh();
      await create(name);

      await expect(
        client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: days })),
      ).rejects.toMatchObject({ name: "InvalidParameterException" });
      expect((await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("v1");
    });

    it("refuses ForceDeleteWithoutRecovery with RecoveryWindowInDays (InvalidParameterException: can't use both in the same call)", async () => {
      const name = fresh();
      await create(name);

      await expect(
        client.send(
          new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true }),
        ),
      ).rejects.toMatchObject({ name: "InvalidParameterException" });
    });

    it('refuses reads and writes of a secret scheduled for deletion with InvalidRequestException ("marked for deletion")', async () => {
      const name = fresh();
      const created = await create(name);
      await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
      const refused = {
        name: "InvalidRequestException",
        message: "You can't perform this operation on the secret because it was marked for deletion.",
      };

      await expect(client.send(new GetSecretValueCommand({ SecretId: name }))).rejects.toMatchObject(refused);
      await expect(client.send(new GetSecretValueCommand({ SecretId: created.ARN }))).rejects.toMatchObject(refused);
      await expect(
        client.send(new PutSecretValueCommand({ SecretId: name, SecretString: "v2" })),
      ).rejects.toMatchObject(refused);
      await expect(
        client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: name,
            VersionStage: "AWSPENDING",
            MoveToVersionId: created.VersionId,
          }),
        ),
      ).rejects.toMatchObject(refused);
      await expect(
        client.send(
          new RotateSecretCommand({ SecretId: name, RotationLambdaARN: "arn:aws:lambda:us-east-1:0:function:r" }),
        ),
      ).rejects.toMatchObject(refused);
      await expect(client.send(new ListSecretVersionIdsCommand({ SecretId: name }))).rejects.toMatchObject(refused);
      // Asked to delete again without force: the same refusal.
      await expect(client.send(new DeleteSecretCommand({ SecretId: name }))).rejects.toMatchObject(refused);
    });

    it("still describes a secret scheduled for deletion, with its DeletedDate (API_DescribeSecret)", async () => {
      const name = fresh();
      await create(name);
      const deletedAt = clock;
      await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));

      const described = await client.send(new DescribeSecretCommand({ SecretId: name }));

      expect(described.Name).toBe(name);
      expect(described.DeletedDate?.getTime()).toBe(deletedAt);
    });

    it('refuses CreateSecret of a name scheduled for deletion with InvalidRequestException ("already scheduled for deletion")', async () => {
      const name = fresh();
      await create(name);
      await client.send(new DeleteSecretCommand({ SecretId: name }));

      await expect(create(name, "again")).rejects.toMatchObject({
        name: "InvalidRequestException",
        message: "You can't create this secret because a secret with this name is already scheduled for deletion.",
      });
    });

    it("restores a secret scheduled for deletion: its value reads again and DeletedDate is gone (API_RestoreSecret)", async () => {
      const name = fresh();
      const created = await create(name, "kept");
      await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));

      const restored = await client.send(new RestoreSecretCommand({ SecretId: name }));

      expect(restored).toMatchObject({ ARN: created.ARN, Name: name });
      expect((await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("kept");
      expect((await client.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate).toBeUndefined();
    });

    it("removes the secret for good once the recovery window has passed (then ResourceNotFoundException; the name is free)", async () => {
      const name = fresh();
      await create(name);
      await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
      clock += 7 * day - 1;
      await expect(client.send(new DescribeSecretCommand({ SecretId: name }))).resolves.toMatchObject({ Name: name });

      clock += 1;

      await expect(client.send(new DescribeSecretCommand({ SecretId: name }))).rejects.toMatchObject({
        name: "ResourceNotFoundException",
      });
      await expect(client.send(new RestoreSecretCommand({ SecretId: name }))).rejects.toMatchObject({
        name: "ResourceNotFoundException",
      });
      await expect(create(name, "new")).resolves.toMatchObject({ Name: name });
    });

    it("deletes at once with ForceDeleteWithoutRecovery, also a secret already scheduled for deletion", async () => {
      const name = fresh();
      await create(name);
      await client.send(new DeleteSecretCommand({ SecretId: name }));

      const forced = await client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));

      expect(forced.DeletionDate?.getTime()).toBe(clock);
      await expect(client.send(new DescribeSecretCommand({ SecretId: name }))).rejects.toMatchObject({
        name: "ResourceNotFoundException",
      });
      await expect(create(name, "new")).resolves.toMatchObject({ Name: name });
    });

    it("does not answer ResourceNotFoundException to a forced delete of a secret that does not exist", async () => {
      await expect(
        client.send(new DeleteSecretCommand({ SecretId: "conf/never-was", ForceDeleteWithoutRecovery: true })),
      ).resolves.toMatchObject({ Name: "conf/never-was" });
      await expect(client.send(new DeleteSecretCommand({ SecretId: "conf/never-was" }))).rejects.toMatchObject({
        name: "ResourceNotFoundException",
      });
    });
  });

  describe("ListSecrets (API_ListSecrets, API_Filter, API_SecretListEntry)", () => {
    const prefix = "listed";

    it("leaves out secrets scheduled for deletion unless IncludePlannedDeletion is true", async () => {
      const kept = fresh(`${prefix}-planned`);
      const gone = fresh(`${prefix}-planned`);
      await create(kept);
      await create(gone);
      await client.send(new DeleteSecretCommand({ SecretId: gone }));
      const filters = [{ Key: "name" as const, Values: [`${prefix}-planned/`] }];

      expect(await list({ Filters: filters })).toEqual([kept]);
      const withPlanned = await client.send(new ListSecretsCommand({ Filters: filters, IncludePlannedDeletion: true }));
      expect(withPlanned.SecretList?.map((s) => [s.Name, s.DeletedDate !== undefined])).toEqual([
        [kept, false],
        [gone, true],
      ]);
    });

    it("gives each entry SecretVersionsToStages, without versions that have no staging label", async () => {
      const name = fresh(`${prefix}-stages`);
      const first = await create(name, "a");
      const second = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: "b" }));
      const third = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: "c" }));

      const [entry] =
        (await client.send(new ListSecretsCommand({ Filters: [{ Key: "name", Values: [name] }] }))).SecretList ?? [];

      expect(entry?.SecretVersionsToStages).toEqual({
        [third.VersionId as string]: ["AWSCURRENT"],
        [second.VersionId as string]: ["AWSPREVIOUS"],
      });
      expect(entry?.SecretVersionsToStages?.[first.VersionId as string]).toBeUndefined();
    });

    it("pages with MaxResults and NextToken, each secret once, NextToken absent on the last page", async () => {
      const names = [fresh(`${prefix}-paged`), fresh(`${prefix}-paged`), fresh(`${prefix}-paged`)];
      for (const name of names) {
        await create(name);
        clock += 1_000;
      }
      const Filters = [{ Key: "name" as const, Values: [`${prefix}-paged/`] }];
      const seen: string[] = [];
      const tokens: Array<string | undefined> = [];
      let NextToken: string | undefined;
      do {
        const page = await client.send(new ListSecretsCommand({ Filters, MaxResults: 2, NextToken }));
        seen.push(...(page.SecretList?.map((s) => s.Name as string) ?? []));
        NextToken = page.NextToken;
        tokens.push(NextToken);
      } while (NextToken);

      expect(seen).toEqual(names);
      expect(tokens).toEqual([expect.any(String), undefined]);
    });

    it.each([0, 101])("refuses MaxResults %i (valid range 1-100)", async (MaxResults) => {
      await expect(client.send(new ListSecretsCommand({ MaxResults }))).rejects.toMatchObject({
        name: "ValidationException",
        $metadata: { httpStatusCode: 400 },
      });
    });

    it("refuses a NextToken it did not give with InvalidNextTokenException", async () => {
      await expect(client.send(new ListSecretsCommand({ NextToken: "not-a-token" }))).rejects.toMatchObject({
        name: "InvalidNextTokenException",
      });
      const Filters = [{ Key: "name" as const, Values: [`${prefix}-paged/`] }];
      const { NextToken } = await client.send(new ListSecretsCommand({ Filters, MaxResults: 1 }));
      // A token is for the query it was given for.
      await expect(
        client.send(new ListSecretsCommand({ Filters, MaxResults: 1, NextToken, SortOrder: "desc" })),
      ).rejects.toMatchObject({ name: "InvalidNextTokenException" });
    });

    it("filters by name: prefix match, case-sensitive; values of one filter OR'd, a ! value negated", async () => {
      const base = `${prefix}-name`;
      await create(`${base}/Alpha`);
      await create(`${base}/alpha2`);
      await create(`${base}/Beta`);

      expect(await list({ Filters: [{ Key: "name", Values: [`${base}/Alpha`] }] })).toEqual([`${base}/Alpha`]);
      expect(await list({ Filters: [{ Key: "name", Values: [`${base}/Alpha`, `${base}/Beta`] }] })).toEqual([
        `${base}/Alpha`,
        `${base}/Beta`,
      ]);
      // Every filter must match (AND): the name prefix, then not Beta.
      expect(
        await list({
          Filters: [
            { Key: "name", Values: [`${base}/`] },
            { Key: "name", Values: [`!${base}/Beta`] },
          ],
        }),
      ).toEqual([`${base}/Alpha`, `${base}/alpha2`]);
    });

    it("filters by description: prefix match, not case-sensitive", async () => {
      const name = fresh(`${prefix}-desc`);
      await create(name, "v", { Description: "Payments webhook key" });
      await create(fresh(`${prefix}-desc`), "v", { Description: "Other" });
      const Filters = (value: string) => [
        { Key: "name" as const, Values: [`${prefix}-desc/`] },
        { Key: "description" as const, Values: [value] },
      ];

      expect(await list({ Filters: Filters("payments WEB") })).toEqual([name]);
      expect(await list({ Filters: Filters("webhook") })).toEqual([]);
    });

    it("filters by tag-key and tag-value: prefix match, case-sensitive", async () => {
      const tagged = fresh(`${prefix}-tags`);
      await create(tagged, "v", { Tags: [{ Key: "team", Value: "payments" }] });
      await create(fresh(`${prefix}-tags`), "v", { Tags: [{ Key: "owner", Value: "ops" }] });
      const within = { Key: "name" as const, Values: [`${prefix}-tags/`] };

      expect(await list({ Filters: [within, { Key: "tag-key", Values: ["te"] }] })).toEqual([tagged]);
      expect(await list({ Filters: [within, { Key: "tag-key", Values: ["Team"] }] })).toEqual([]);
      expect(await list({ Filters: [within, { Key: "tag-value", Values: ["pay"] }] })).toEqual([tagged]);
      expect(await list({ Filters: [within, { Key: "tag-value", Values: ["!pay"] }] })).toHaveLength(1);
      expect(await list({ Filters: [within, { Key: "tag-value", Values: ["!pay"] }] })).not.toContain(tagged);
    });

    it("filters by all: the value broken into words, matched in name, description and tags, not case-sensitive", async () => {
      const name = `${prefix}-all/ordersDatabase`;
      await create(name, "v", { Description: "nightly", Tags: [{ Key: "env", Value: "Prod" }] });
      const within = { Key: "name" as const, Values: [`${prefix}-all/`] };

      for (const value of ["DATABASE", "credsDatabase#892", "NIGHTLY", "prod"])
        expect(await list({ Filters: [within, { Key: "all", Values: [value] }] }), value).toEqual([name]);
      expect(await list({ Filters: [within, { Key: "all", Values: ["staging"] }] })).toEqual([]);
    });

    it("sorts by CreatedDate, asc or desc by SortOrder (and by name with SortBy)", async () => {
      const base = `${prefix}-sorted`;
      for (const name of ["b", "a", "c"]) {
        await create(`${base}/${name}`);
        clock += 1_000;
      }
      const Filters = [{ Key: "name" as const, Values: [`${base}/`] }];

      expect(await list({ Filters })).toEqual([`${base}/b`, `${base}/a`, `${base}/c`]);
      expect(await list({ Filters, SortOrder: "desc" })).toEqual([`${base}/c`, `${base}/a`, `${base}/b`]);
      expect(await list({ Filters, SortBy: "name" })).toEqual([`${base}/a`, `${base}/b`, `${base}/c`]);
    });
  });

  describe("versions that lost their staging labels (deprecated versions, API_UpdateSecretVersionStage)", () => {
    it("keeps a version with no staging label readable by VersionId, out of VersionIdsToStages", async () => {
      const name = fresh();
      const first = await create(name, "first");
      await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: "second" }));
      await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: "third" }));

      const old = await client.send(new GetSecretValueCommand({ SecretId: name, VersionId: first.VersionId }));
      const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
      const versions = await client.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));

      expect(old).toMatchObject({ SecretString: "first", VersionStages: [] });
      expect(Object.keys(described.VersionIdsToStages ?? {})).not.toContain(first.VersionId);
      expect(versions.Versions?.map((v) => v.VersionId)).toContain(first.VersionId);
    });

    it(`removes the oldest unlabeled versions past ${maxSecretVersions} versions, never a labeled one`, async () => {
      const name = fresh();
      const first = await create(name, "v0");
      for (let i = 1; i <= maxSecretVersions; i++) {
        clock += 1;
        await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: `v${i}` }));
      }

      const versions = await client.send(
        new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true, MaxResults: 100 }),
      );

      expect(versions.Versions).toHaveLength(maxSecretVersions);
      expect(versions.NextToken).toBeUndefined();
      await expect(
        client.send(new GetSecretValueCommand({ SecretId: name, VersionId: first.VersionId })),
      ).rejects.toMatchObject({ name: "ResourceNotFoundException" });
      expect((await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(
        `v${maxSecretVersions}`,
      );
      expect(
        (await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSPREVIOUS" }))).SecretString,
      ).toBe(`v${maxSecretVersions - 1}`);
    });
  });

  describe("requests AWS refuses before any action (Common Errors; the JSON protocol)", () => {
    const raw = (body: string, headers: Record<string, string> = {}) =>
      fetch(sm.url, {
        method: "POST",
        headers: {
          "content-type": "application/x-amz-json-1.1",
          "x-amz-target": "secretsmanager.ListSecrets",
          ...headers,
        },
        body,
      });
    const signed = {
      authorization:
        "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
      "x-amz-date": "20260101T000000Z",
    };

    it("refuses a request with no Authorization header: 400 MissingAuthenticationTokenException", async () => {
      const res = await raw("{}");

      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        __type: "MissingAuthenticationTokenException",
        message: "Request is missing Authentication Token",
      });
      expect(res.headers.get("x-amzn-requestid")).toMatch(/^[0-9a-f-]{36}$/);
    });

    it("refuses a SigV4 Authorization header without its parts: 400 IncompleteSignatureException", async () => {
      const res = await raw("{}", {
        authorization: "AWS4-HMAC-SHA256 Credential=local/x",
        "x-amz-date": "20260101T000000Z",
      });

      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        __type: "IncompleteSignatureException",
        message: expect.stringContaining("Authorization header requires 'Signature' parameter."),
      });
    });

    it.each(["null", "[]", '"text"', "42", "{"])(
      "refuses the body %s with 400 SerializationException, not 500",
      async (body) => {
        const res = await raw(body, signed);

        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ __type: "SerializationException" });
        expect(res.headers.get("x-amzn-requestid")).toBeTruthy();
      },
    );

    it("puts x-amzn-RequestId on every answer, success and error, a new one each time", async () => {
      const ok = await raw("{}", signed);
      const error = await raw(JSON.stringify({ SecretId: "conf/nope" }), {
        ...signed,
        "x-amz-target": "secretsmanager.GetSecretValue",
      });

      expect([ok.status, error.status]).toEqual([200, 400]);
      const ids = [ok.headers.get("x-amzn-requestid"), error.headers.get("x-amzn-requestid")];
      expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
      expect(ids[0]).not.toBe(ids[1]);
    });

    it("gives the SDK the request id as $metadata.requestId", async () => {
      const out = await client.send(new ListSecretsCommand({ MaxResults: 1 }));
      const err = await client.send(new GetSecretValueCommand({ SecretId: "conf/nope" })).catch((e: unknown) => e);

      expect(out.$metadata.requestId).toBeTruthy();
      expect((err as { $metadata: { requestId?: string } }).$metadata.requestId).toBeTruthy();
    });
  });
});
