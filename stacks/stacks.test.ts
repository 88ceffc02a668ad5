import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { type FunctionSpec, functionEnvKeys, metricsNamespaceVariable } from "@flxbl-lambda/core";
import { manifest } from "@flxbl-lambda/functions";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { nightlyReportJob, repoEventsWebhook } from "./fixtures.js";
import { stateKeyPatterns, tracingEnvironment } from "./functions.js";
import { checkSettings, createStacks } from "./index.js";
import { synthesize } from "./synth.js";

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;
type Statement = { Action: string | string[]; Effect: string; Resource: unknown; Condition?: Record<string, any> };

const resources = (t: Template) => t.toJSON().Resources as Resources;
const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const byType = (t: Template, type: string) => Object.entries(resources(t)).filter(([, r]) => r.Type === type);

/** Everything the synthesized app says about one manifest entry. */
function inspect(templates: Record<string, Template>, spec: FunctionSpec, stage: string) {
  const keys = templates.Keys as Template;
  const home = templates[spec.trigger.kind === "http" ? "Webhooks" : "Jobs"] as Template;
  const [secretId] = byType(keys, "AWS::SecretsManager::Secret").find(
    ([, r]) => r.Properties.Name === `flxbl-lambda/${stage}/${spec.name}`,
  ) ?? [undefined];
  const exportOf = (logicalId: string | undefined) =>
    Object.values(keys.toJSON().Outputs as Record<string, { Value: unknown; Export: { Name: string } }>).find(
      (o) => JSON.stringify(o.Value) === JSON.stringify({ Ref: logicalId }),
    )?.Export.Name;
  const [fnId, fn] = byType(home, "AWS::Lambda::Function").find(
    ([, r]) => r.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === spec.name,
  ) ?? [undefined, undefined];
  const roleRef = JSON.stringify(fn?.Properties.Role?.["Fn::GetAtt"]?.[0]);
  const statements = byType(home, "AWS::IAM::Policy")
    .filter(([, p]) =>
      (p.Properties.Roles as unknown[]).some((r) => JSON.stringify((r as { Ref: string }).Ref) === roleRef),
    )
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
  return { secretId, secretExport: exportOf(secretId), fnId, fn, statements, home };
}

describe("stacks synthesized offline from the manifest", () => {
  let templates: Record<string, Template>;
  beforeAll(async () => {
    ({ templates } = await synthesize({ stage: "test", dotenv: false }));
  }, 120_000);

  it("builds the five stacks the design names (and Alerts only with ALARM_EMAIL)", () => {
    expect(Object.keys(templates).sort()).toEqual(["Jobs", "Keys", "Monitoring", "Storage", "Webhooks"]);
  });

  describe.each(manifest.map((spec) => [spec.name, spec as FunctionSpec] as const))("%s", (_, spec) => {
    it("is a function with the manifest's runtime, architecture, timeout and memory", () => {
      const { fn } = inspect(templates, spec, "test");
      expect(fn?.Properties).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Timeout: spec.timeoutSeconds,
        MemorySize: spec.memoryMb ?? 256,
      });
    });

    it("gets FLXBL_URL, its own secret's ARN and the table name, and nothing secret", () => {
      const { fn, secretExport } = inspect(templates, spec, "test");
      const vars = fn?.Properties.Environment.Variables as Record<string, unknown>;
      expect(vars.FLXBL_URL).toBe("https://api.flxbl.dev/api/v1");
      expect(vars.FLXBL_SECRET_ARN).toEqual({ "Fn::ImportValue": secretExport });
      expect(JSON.stringify(vars.STATE_TABLE_NAME)).toContain("StateTable");
      for (const value of Object.values(vars)) expect(JSON.stringify(value)).not.toMatch(/flxbl_|whsec_/);
      for (const [name, value] of Object.entries(spec.environment ?? {})) expect(vars[name]).toBe(value);
    });

    it("has its trigger", () => {
      const { fnId, home } = inspect(templates, spec, "test");
      const trigger = spec.trigger;
      if (trigger.kind === "http") {
        const [, route] = byType(home, "AWS::ApiGatewayV2::Route").find(
          ([, r]) => r.Properties.RouteKey === `${trigger.method} ${trigger.path}`,
        ) ?? [undefined, undefined];
        expect(route).toBeDefined();
        const integrationId = (route?.Properties.Target["Fn::Join"][1][1] as { Ref: string } | undefined)?.Ref ?? "";
        const integration = resources(home)[integrationId];
        expect(JSON.stringify(integration?.Properties.IntegrationUri)).toContain(fnId);
      } else {
        const rules = byType(home, "AWS::Events::Rule").filter(
          ([, r]) => r.Properties.ScheduleExpression === trigger.expression,
        );
        expect(rules).toHaveLength(1);
        const target = rules[0]?.[1].Properties.Targets[0];
        expect(target.Arn).toEqual({ "Fn::GetAtt": [fnId, "Arn"] });
        expect(target.RetryPolicy).toMatchObject({ MaximumRetryAttempts: 2 });
        expect(target.DeadLetterConfig).toBeDefined();
      }
    });

    it("may read its own secret and no other, with GetSecretValue only", () => {
      const { statements, secretExport } = inspect(templates, spec, "test");
      const secretStatements = statements.filter((s) => actionsOf(s).some((a) => a.startsWith("secretsmanager:")));
      expect(secretStatements).toEqual([
        { Action: "secretsmanager:GetSecretValue", Effect: "Allow", Resource: { "Fn::ImportValue": secretExport } },
      ]);
    });

    it("may use only the DynamoDB actions it needs, on the state table only", () => {
      const { statements } = inspect(templates, spec, "test");
      const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith("dynamodb:")));
      expect(dynamo).toHaveLength(1);
      const needed =
        spec.trigger.kind === "http"
          ? ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
          : ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];
      expect(actionsOf(dynamo[0] as Statement).sort()).toEqual(needed.sort());
      expect(JSON.stringify(dynamo[0]?.Resource)).toMatch(/StateTable.*Arn/);
    });

    it("may touch only its own items of the state table (dynamodb:LeadingKeys)", () => {
      const { statements } = inspect(templates, spec, "test");
      const dynamo = statements.find((s) => actionsOf(s).some((a) => a.startsWith("dynamodb:")));
      const own = spec.trigger.kind === "http" ? `idem#${spec.name}#*` : `job#${spec.name}`;
      expect(dynamo?.Condition).toEqual({
        "ForAllValues:StringLike": {
          "dynamodb:LeadingKeys": [own, ...(spec.locks ?? []).map((ns) => `lock#${ns}#*`)],
        },
      });
    });

    it("alarms when it logs a broken invariant", () => {
      const { home } = inspect(templates, spec, "test");
      home.hasResourceProperties("AWS::Logs::MetricFilter", {
        FilterPattern: `{ $.invariantViolation = "*" }`,
        MetricTransformations: [Match.objectLike({ MetricName: `InvariantViolations-${spec.name}`, MetricValue: "1" })],
      });
      home.hasResourceProperties("AWS::CloudWatch::Alarm", {
        MetricName: `InvariantViolations-${spec.name}`,
        Threshold: 1,
      });
    });

    it("gets exactly the variables readFunctionEnv reads, the service name and its manifest environment", () => {
      const vars = inspect(templates, spec, "test").fn?.Properties.Environment.Variables as Record<string, unknown>;
      const expected = [
        ...functionEnvKeys,
        "POWERTOOLS_SERVICE_NAME",
        metricsNamespaceVariable,
        ...Object.keys(tracingEnvironment),
        ...Object.keys(spec.environment ?? {}),
      ];
      // SST adds its own two; everything else is the contract's.
      const ours = Object.keys(vars).filter(
        (k) => !k.startsWith("SST_") && k !== "AWS_NODEJS_CONNECTION_REUSE_ENABLED",
      );
      expect(ours.sort()).toEqual([...new Set(expected)].sort());
    });

    it("names the resource '*' only for X-Ray's two actions, which take no resource", () => {
      const { statements } = inspect(templates, spec, "test");
      const anywhere = statements.filter((s) => JSON.stringify(s.Resource) === '"*"');
      expect(anywhere).toEqual([
        { Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Effect: "Allow", Resource: "*" },
      ]);
    });

    it("gets its stage and the secret cache TTL the rotation grace period was checked against", () => {
      const vars = inspect(templates, spec, "test").fn?.Properties.Environment.Variables as Record<string, unknown>;
      expect(vars.APP_STAGE).toBe("test");
      expect(vars.FLXBL_SECRET_TTL_SECONDS).toBe("300");
    });
  });

  it("keeps every function's idempotency records and checkpoint out of every other function's reach", () => {
    const reach = new Map<string, string[]>(
      manifest.map((spec): [string, string[]] => {
        const { statements } = inspect(templates, spec, "test");
        const dynamo = statements.find((s) => actionsOf(s).some((a) => a.startsWith("dynamodb:")));
        return [spec.name, dynamo?.Condition?.["ForAllValues:StringLike"]?.["dynamodb:LeadingKeys"] as string[]];
      }),
    );
    const matches = (pattern: string, key: string) =>
      new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`).test(key);
    for (const owner of manifest) {
      const ownKey = owner.trigger.kind === "http" ? `idem#${owner.name}#someHash==` : `job#${owner.name}`;
      for (const other of manifest) {
        if (other.name === owner.name) continue;
        expect(
          (reach.get(other.name) ?? []).some((p) => matches(p, ownKey)),
          `${other.name} reaches ${ownKey}`,
        ).toBe(false);
      }
    }
    // What is shared is a lock namespace both declare: the payments webhook and the expiry job on orders.
    expect(reach.get("payments-webhook")).toContain("lock#order#*");
    expect(reach.get("expire-stale-orders")).toContain("lock#order#*");
    expect(reach.get("inventory-webhook")).not.toContain("lock#order#*");
    expect(stateKeyPatterns(manifest[0] as FunctionSpec)).toEqual(reach.get(manifest[0].name));
  });

  it("grants no secretsmanager action on *, in any stack", () => {
    for (const template of Object.values(templates)) {
      for (const [, policy] of byType(template, "AWS::IAM::Policy")) {
        for (const s of policy.Properties.PolicyDocument.Statement as Statement[]) {
          const secretActions = actionsOf(s).filter((a) => a.startsWith("secretsmanager:"));
          if (secretActions.length === 0) continue;
          expect(secretActions.some((a) => a.includes("*"))).toBe(false);
          expect(JSON.stringify(s.Resource)).not.toContain('"*"');
        }
      }
    }
  });

  it("rotates every function secret on a 30-day schedule through the rotation function", () => {
    const keys = templates.Keys as Template;
    const [rotationId] = byType(keys, "AWS::Lambda::Function").find(([, f]) =>
      JSON.stringify(f.Properties.Environment?.Variables ?? {}).includes("ADMIN_SECRET_ARN"),
    ) ?? [""];
    const schedules = byType(keys, "AWS::SecretsManager::RotationSchedule").map(([, r]) => r.Properties);
    const functionSecrets = byType(keys, "AWS::SecretsManager::Secret")
      .filter(([, r]) => r.Properties.Name !== "flxbl-lambda/test/admin")
      .map(([id]) => id);
    expect(schedules.map((p) => p.SecretId.Ref).sort()).toEqual(functionSecrets.sort());
    for (const p of schedules) {
      expect(p.RotationLambdaARN).toEqual({ "Fn::GetAtt": [rotationId, "Arn"] });
      expect(p.RotationRules).toEqual({ ScheduleExpression: "rate(30 days)" });
    }
    keys.hasResourceProperties("AWS::Lambda::Permission", {
      Principal: "secretsmanager.amazonaws.com",
      FunctionName: { "Fn::GetAtt": [rotationId, "Arn"] },
      // Secrets Manager acting for another account cannot invoke it (offline, SST's account placeholder).
      SourceAccount: Match.stringLikeRegexp("^(\\d{12}|my-account)$"),
    });
  });

  it("gives the rotation function its authority from the manifest: the stage, never a scope list to trust", () => {
    const keys = templates.Keys as Template;
    const [, rotation] = byType(keys, "AWS::Lambda::Function").find(([, f]) =>
      JSON.stringify(f.Properties.Environment?.Variables ?? {}).includes("ADMIN_SECRET_ARN"),
    ) ?? [undefined, undefined];
    const vars = rotation?.Properties.Environment.Variables as Record<string, unknown>;
    expect(vars).toMatchObject({
      APP_STAGE: "test",
      ROTATION_GRACE_SECONDS: "360",
      FLXBL_URL: "https://api.flxbl.dev/api/v1",
    });
    expect(rotation?.Properties.Timeout).toBe(900);
  });

  it("alarms on a failed rotation: the rotation function's errors and Secrets Manager's RotationFailed events", () => {
    const keys = templates.Keys as Template;
    const [rotationId] = byType(keys, "AWS::Lambda::Function").find(([, f]) =>
      JSON.stringify(f.Properties.Environment?.Variables ?? {}).includes("ADMIN_SECRET_ARN"),
    ) ?? [""];
    keys.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "Errors",
      Namespace: "AWS/Lambda",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: rotationId } }],
      Threshold: 1,
    });
    const [ruleId] = byType(keys, "AWS::Events::Rule").find(
      ([, r]) => r.Properties.EventPattern?.source?.[0] === "aws.secretsmanager",
    ) ?? [""];
    keys.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        source: ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        detail: { eventName: ["RotationFailed", "RotationAbandoned"] },
      },
    });
    keys.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "TriggeredRules",
      Namespace: "AWS/Events",
      Dimensions: [{ Name: "RuleName", Value: { Ref: ruleId } }],
    });
  });

  it("denies reading the admin secret to everyone but the rotation function's role and the administrators", () => {
    const keys = templates.Keys as Template;
    const [adminId] = byType(keys, "AWS::SecretsManager::Secret").find(
      ([, r]) => r.Properties.Name === "flxbl-lambda/test/admin",
    ) ?? [""];
    const [, rotation] = byType(keys, "AWS::Lambda::Function").find(([, f]) =>
      JSON.stringify(f.Properties.Environment?.Variables ?? {}).includes("ADMIN_SECRET_ARN"),
    ) ?? [undefined, undefined];
    const account = byType(keys, "AWS::Lambda::Permission")[0]?.[1].Properties.SourceAccount as string;
    const policies = byType(keys, "AWS::SecretsManager::ResourcePolicy").filter(
      ([, p]) => JSON.stringify(p.Properties.SecretId) === JSON.stringify({ Ref: adminId }),
    );
    expect(policies).toHaveLength(1);
    const statements = policies[0]?.[1].Properties.ResourcePolicy.Statement as Statement[];
    expect(statements).toEqual([
      expect.objectContaining({
        Effect: "Deny",
        Principal: { AWS: "*" },
        Action: "secretsmanager:GetSecretValue",
        Condition: {
          ArnNotLike: {
            "aws:PrincipalArn": [
              rotation?.Properties.Role,
              `arn:aws:iam::${account}:root`,
              `arn:aws:iam::${account}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_AdministratorAccess_*`,
              `arn:aws:iam::${account}:role/OrganizationAccountAccessRole`,
            ],
          },
        },
      }),
    ]);
  });

  it("gives every function its own secret, named by app, stage and function, and an admin secret", () => {
    const names = byType(templates.Keys as Template, "AWS::SecretsManager::Secret").map(([, r]) => r.Properties.Name);
    expect(names.sort()).toEqual(
      [...manifest.map((f) => `flxbl-lambda/test/${f.name}`), "flxbl-lambda/test/admin"].sort(),
    );
  });

  it("lets only the rotation function read the admin secret", () => {
    const keys = templates.Keys as Template;
    const [adminId] = byType(keys, "AWS::SecretsManager::Secret").find(
      ([, r]) => r.Properties.Name === "flxbl-lambda/test/admin",
    ) ?? [""];
    // Not exported, so no other stack can even name it...
    const adminOutputs = Object.values(keys.toJSON().Outputs ?? {}).filter(
      (o) => JSON.stringify((o as { Value: unknown }).Value) === JSON.stringify({ Ref: adminId }),
    );
    expect(adminOutputs).toEqual([]);
    for (const template of [templates.Webhooks, templates.Jobs] as Template[])
      expect(JSON.stringify(template.toJSON())).not.toContain(adminId);
    // ...and in its own stack, one policy names it: the rotation function's.
    const readers = byType(keys, "AWS::IAM::Policy").filter(([, p]) =>
      JSON.stringify(p.Properties.PolicyDocument).includes(`"Ref":"${adminId}"`),
    );
    expect(readers).toHaveLength(1);
    const roles = (readers[0]?.[1].Properties.Roles ?? []) as Array<{ Ref: string }>;
    const role = roles[0]?.Ref;
    const [, rotation] = byType(keys, "AWS::Lambda::Function").find(
      ([, f]) => JSON.stringify(f.Properties.Role) === JSON.stringify({ "Fn::GetAtt": [role, "Arn"] }),
    ) ?? [undefined, undefined];
    expect(rotation?.Properties.Environment.Variables.ADMIN_SECRET_ARN).toEqual({ Ref: adminId });
  });

  it("keeps idempotency records and checkpoints in one on-demand table with TTL on expiration", () => {
    (templates.Storage as Template).hasResourceProperties("AWS::DynamoDB::Table", {
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      TimeToLiveSpecification: { AttributeName: "expiration", Enabled: true },
    });
  });

  it("throttles the webhook API and writes access logs", () => {
    const webhooks = templates.Webhooks as Template;
    webhooks.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp("requestId") },
    });
    expect(Object.keys(webhooks.toJSON().Outputs)).toContain("WebhooksUrl");
  });

  it("retries a failed job run twice, then parks it in the dead-letter queue, and alarms", () => {
    const jobs = templates.Jobs as Template;
    const jobCount = manifest.filter((f) => f.trigger.kind === "schedule").length;
    const configs = byType(jobs, "AWS::Lambda::EventInvokeConfig");
    expect(configs).toHaveLength(jobCount);
    for (const [, c] of configs) {
      expect(c.Properties.MaximumRetryAttempts).toBe(2);
      expect(JSON.stringify(c.Properties.DestinationConfig.OnFailure.Destination)).toContain("JobFailures");
    }
    const alarms = byType(jobs, "AWS::CloudWatch::Alarm").map(([, a]) => a.Properties.MetricName);
    expect(alarms.filter((m) => m === "Errors")).toHaveLength(jobCount);
    expect(alarms).toContain("ApproximateNumberOfMessagesVisible");
  });

  it("turns point-in-time recovery on in prod only", async () => {
    const prod = await synthesize({ stage: "prod", dotenv: false });
    (prod.templates.Storage as Template).hasResourceProperties("AWS::DynamoDB::Table", {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    const pitr = byType(templates.Storage as Template, "AWS::DynamoDB::Table")[0]?.[1].Properties
      .PointInTimeRecoverySpecification;
    expect(pitr?.PointInTimeRecoveryEnabled ?? false).toBe(false);
  }, 120_000);

  it("adds a function, its trigger, its secret and its policy from one new manifest entry alone", async () => {
    const github = repoEventsWebhook;
    const extra = nightlyReportJob;
    const { inOrder } = createStacks([...manifest, github, extra]);
    const grown = await synthesize({
      stage: "test",
      dotenv: false,
      stacks: (app) => {
        app.setDefaultFunctionProps({ runtime: "nodejs22.x", architecture: "arm_64" });
        for (const stack of inOrder) app.stack(stack);
      },
    });
    const found = inspect(grown.templates, extra, "test");
    expect(found.secretId).toBeDefined();
    expect(found.fn?.Properties).toMatchObject({ Timeout: 120, MemorySize: 512 });
    expect(found.statements.filter((s) => actionsOf(s).includes("secretsmanager:GetSecretValue"))).toEqual([
      { Action: "secretsmanager:GetSecretValue", Effect: "Allow", Resource: { "Fn::ImportValue": found.secretExport } },
    ]);
    expect(
      byType(grown.templates.Jobs as Template, "AWS::Events::Rule").some(
        ([, r]) => r.Properties.ScheduleExpression === "cron(0 2 * * ? *)",
      ),
    ).toBe(true);
    const appFunctions = (t: Template) =>
      byType(t, "AWS::Lambda::Function").filter(
        ([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME,
      );
    expect(appFunctions(grown.templates.Jobs as Template).length).toBe(
      appFunctions(templates.Jobs as Template).length + 1,
    );
    // The webhook: its route on the API, integrated with its own function, on its own secret.
    const hook = inspect(grown.templates, github, "test");
    expect(hook.secretId).toBeDefined();
    const [, route] =
      byType(grown.templates.Webhooks as Template, "AWS::ApiGatewayV2::Route").find(
        ([, r]) => r.Properties.RouteKey === "POST /webhooks/repo-events",
      ) ?? [];
    const integrationId = (route?.Properties.Target["Fn::Join"][1][1] as { Ref: string } | undefined)?.Ref ?? "";
    const integration = resources(grown.templates.Webhooks as Template)[integrationId];
    expect(hook.fnId).toBeDefined();
    expect(JSON.stringify(integration?.Properties.IntegrationUri)).toContain(hook.fnId);
    expect(hook.statements.filter((s) => actionsOf(s).includes("secretsmanager:GetSecretValue"))).toEqual([
      { Action: "secretsmanager:GetSecretValue", Effect: "Allow", Resource: { "Fn::ImportValue": hook.secretExport } },
    ]);
  }, 120_000);

  describe("settings refused at synth time", () => {
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    it("refuses a FLXBL_URL that is not https:, naming the fix", async () => {
      vi.stubEnv("FLXBL_URL", "http://api.flxbl.example/api/v1");
      await expect(synthesize({ stage: "test", dotenv: false })).rejects.toThrow(
        /FLXBL_URL must be https:.*FLXBL_URL=https/s,
      );
      expect(() => checkSettings(manifest, { flxblUrl: "http://127.0.0.1:4010/api/v1" })).toThrow(/https:/);
    });

    it.each([
      ["not longer than the secret cache TTL", { rotationGraceSeconds: 300 }, /longer than .* TTL \(300 s\)/],
      [
        "not longer than a TTL raised in the manifest",
        { rotationGraceSeconds: 360, secretTtlSeconds: 400 },
        /TTL \(400 s\)/,
      ],
      ["not a minute shorter than the rotation function's timeout", { rotationGraceSeconds: 870 }, /at most 840/],
    ] as const)("refuses a rotation grace period %s", (_, settings, message) => {
      expect(() => createStacks(manifest, settings)).toThrow(message);
    });

    it("accepts the defaults", () => {
      expect(() => checkSettings(manifest, {})).not.toThrow();
    });
  });
});

describe("a .env copied from .env.example (sst deploy reads .env over the environment)", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("sets nothing a deploy reads, so a deploy with it uses the defaults", async () => {
    const example = parseEnv(readFileSync(new URL("../.env.example", import.meta.url), "utf8"));
    // What sst.config.ts reads: an empty line for one of these would replace the shell's value.
    for (const name of [
      "FLXBL_URL",
      "ADMIN_PRINCIPAL_ARNS",
      "ALARM_EMAIL",
      "ALARM_TOPIC_ARN",
      "WEBHOOK_RESERVED_CONCURRENCY",
      "AWS_REGION",
      "SST_STAGE",
    ])
      expect(example, `${name} in .env.example`).not.toHaveProperty(name);
    // Loaded as initProject loads it (over the environment), the app still deploys the default FLXBL.
    vi.stubEnv("FLXBL_URL", "");
    for (const [name, value] of Object.entries(example)) vi.stubEnv(name, value);
    const { templates } = await synthesize({ stage: "test", dotenv: false });
    const urls = byType(templates.Webhooks as Template, "AWS::Lambda::Function")
      .map(([, f]) => f.Properties.Environment?.Variables?.FLXBL_URL)
      .filter((url) => url !== undefined);
    expect(urls.length).toBeGreaterThan(0);
    expect(new Set(urls)).toEqual(new Set(["https://api.flxbl.dev/api/v1"]));
  }, 120_000);
});
