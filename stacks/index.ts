import {
  adminSecretName,
  contractDefaults,
  type FunctionSpec,
  flxblUrlProblem,
  functionSecretName,
  type JobSpec,
  rotationEnvironment,
  type WebhookSpec,
} from "@flxbl-lambda/core";
import { rotationFunction } from "@flxbl-lambda/functions";
import { Duration, RemovalPolicy, SecretValue } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { Rule } from "aws-cdk-lib/aws-events";
import { CloudWatchLogGroup } from "aws-cdk-lib/aws-events-targets";
import { AnyPrincipal, Effect, PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { CfnRotationSchedule, Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { Api, Cron, Function as SstFunction, type StackContext, Table, use } from "sst/constructs";
import { manifestFunction, pascal } from "./functions.js";

/** Stage-level settings the stacks take from `sst.config.ts`. */
export interface StackSettings {
  /** FLXBL's API base for this stage. @default "https://api.flxbl.dev/api/v1" */
  flxblUrl?: string;
  /** HTTP API throttling for the webhook routes. @default { rate: 50, burst: 100 } */
  throttle?: { rate: number; burst: number };
  /** Days between key rotations. @default 30 */
  rotationDays?: number;
  /**
   * Seconds a superseded key keeps working after rotation: longer than the functions' secret
   * cache TTL, and at least a minute shorter than the rotation function's 900-s timeout
   * (checked at synth time). @default 360
   */
  rotationGraceSeconds?: number;
  /** Seconds each function keeps its secret in memory (`FLXBL_SECRET_TTL_SECONDS`). @default 300 */
  secretTtlSeconds?: number;
  /**
   * Who besides the rotation function may read the admin secret (`aws:PrincipalArn` patterns):
   * the deploying account's administrators, who run `npm run keys`.
   * @default {@link defaultAdminPrincipals}: the account root, IAM Identity Center
   * AdministratorAccess roles and `OrganizationAccountAccessRole`
   */
  adminPrincipalArns?: string[];
}

/**
 * The account's administrators by AWS's own conventions: the root user, IAM Identity Center's
 * `AdministratorAccess` permission-set roles, and the role AWS Organizations creates in member
 * accounts. Any other principal (a CI role, say) is named with `ADMIN_PRINCIPAL_ARNS`.
 */
export function defaultAdminPrincipals(account: string): string[] {
  return [
    `arn:aws:iam::${account}:root`,
    `arn:aws:iam::${account}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_AdministratorAccess_*`,
    `arn:aws:iam::${account}:role/OrganizationAccountAccessRole`,
  ];
}

/** The name of a function's secret: `<app>/<stage>/<function>`; the admin key's is `<app>/<stage>/admin`. */
export function secretName(app: { name: string; stage: string }, fn: string): string {
  return fn === "admin"
    ? adminSecretName({ app: app.name, stage: app.stage })
    : functionSecretName({ app: app.name, stage: app.stage }, fn);
}

/**
 * Refuses settings that would break a promise at run time: FLXBL over plain http (the keys would
 * travel in clear), or a rotation grace period that a cached key could outlive (a warm function
 * would hold a revoked key) or that the rotation function could not wait out before its timeout.
 */
export function checkSettings(manifest: readonly FunctionSpec[], settings: StackSettings): void {
  const problems: string[] = [];
  const url = settings.flxblUrl ?? "https://api.flxbl.dev/api/v1";
  const urlProblem = flxblUrlProblem(url, { allowLoopbackHttp: false });
  if (urlProblem) problems.push(`${urlProblem}. Deploy with FLXBL_URL=https://...`);
  const grace = settings.rotationGraceSeconds ?? contractDefaults.rotationGraceSeconds;
  const ttls = manifest.map((spec) => ({
    name: spec.name,
    ttl: Number(
      spec.environment?.FLXBL_SECRET_TTL_SECONDS ?? settings.secretTtlSeconds ?? contractDefaults.secretTtlSeconds,
    ),
  }));
  for (const { name, ttl } of ttls)
    if (!(grace > ttl))
      problems.push(
        `rotationGraceSeconds (${grace}) must be longer than ${name}'s secret cache TTL (${ttl} s), or a warm ${name} would hold a revoked key`,
      );
  const room = rotationFunction.timeoutSeconds - 60;
  if (!(grace <= room))
    problems.push(
      `rotationGraceSeconds (${grace}) must leave the rotation function a minute of its ${rotationFunction.timeoutSeconds}-s timeout (at most ${room})`,
    );
  if (problems.length > 0) throw new Error(`Invalid stack settings:\n  ${problems.join("\n  ")}`);
}

const isWebhook = (spec: FunctionSpec): spec is WebhookSpec => spec.trigger.kind === "http";
const isJob = (spec: FunctionSpec): spec is JobSpec => spec.trigger.kind === "schedule";

/**
 * The app's stacks, built from a manifest: every function, route, schedule, secret and permission
 * comes from its entries, so a new function is one manifest entry plus its handler file.
 *
 * @example
 * ```ts
 * import type { App } from "sst/constructs";
 *
 * function stacks(app: App) { // as in sst.config.ts
 *   const { Keys, Storage, Webhooks, Jobs } = createStacks(manifest);
 *   app.stack(Keys).stack(Storage).stack(Webhooks).stack(Jobs);
 * }
 * ```
 */
export function createStacks(manifest: readonly FunctionSpec[], settings: StackSettings = {}) {
  checkSettings(manifest, settings);
  const flxblUrl = settings.flxblUrl ?? "https://api.flxbl.dev/api/v1";
  const rotationDays = settings.rotationDays ?? 30;
  const rotationGraceSeconds = settings.rotationGraceSeconds ?? contractDefaults.rotationGraceSeconds;
  const secretTtlSeconds = settings.secretTtlSeconds ?? contractDefaults.secretTtlSeconds;

  /**
   * One Secrets Manager secret per function (its FLXBL key, and a webhook's signing secrets), the
   * admin key's secret, and the rotation function that renews every function key on a schedule.
   */
  function Keys({ stack, app }: StackContext) {
    // A placeholder, not a secret: the loader reports "empty FLXBL API key" until `npm run keys -- provision` fills it.
    const placeholder = SecretValue.unsafePlainText(JSON.stringify({ apiKey: "", signingSecrets: [] }));
    const secrets: Record<string, Secret> = {};
    for (const spec of manifest) {
      secrets[spec.name] = new Secret(stack, `${pascal(spec.name)}Secret`, {
        secretName: secretName(app, spec.name),
        description: `FLXBL key (${spec.scopes.join(", ")}) of ${spec.name}`,
        secretStringValue: placeholder,
      });
    }
    const admin = new Secret(stack, "AdminSecret", {
      secretName: secretName(app, "admin"),
      description: "FLXBL admin key for key provisioning and rotation; read by the rotation function only",
      secretStringValue: placeholder,
    });

    const rotation = new SstFunction(stack, "RotateKey", {
      handler: rotationFunction.handler,
      description: rotationFunction.description,
      // finishSecret waits out the grace period before revoking the old key.
      timeout: rotationFunction.timeoutSeconds,
      memorySize: rotationFunction.memoryMb,
      // With the manifest bundled in the function, the stage names which secrets it may rotate
      // and with which scopes: its authority, never the secret's own content.
      environment: rotationEnvironment({
        name: rotationFunction.name,
        flxblUrl,
        adminSecretId: admin.secretArn,
        stage: stack.stage,
        graceSeconds: rotationGraceSeconds,
      }),
    });
    const functionSecretArns = Object.values(secrets).map((s) => s.secretArn);
    if (functionSecretArns.length > 0) {
      rotation.addToRolePolicy(
        new PolicyStatement({
          actions: [
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecretVersionStage",
          ],
          resources: functionSecretArns,
        }),
      );
    }
    rotation.addToRolePolicy(
      new PolicyStatement({ actions: ["secretsmanager:GetSecretValue"], resources: [admin.secretArn] }),
    );
    // The L1 schedule rather than secret.addRotationSchedule(): the L2 also grants
    // secretsmanager:GetRandomPassword on "*", which the rotation does not use.
    // Only Secrets Manager acting for this account may invoke it (no confused deputy).
    rotation.addPermission("SecretsManagerInvokes", {
      principal: new ServicePrincipal("secretsmanager.amazonaws.com"),
      action: "lambda:InvokeFunction",
      sourceAccount: stack.account,
    });
    const invoke = rotation.permissionsNode.findChild("SecretsManagerInvokes");
    for (const spec of manifest) {
      const schedule = new CfnRotationSchedule(stack, `${pascal(spec.name)}Rotation`, {
        secretId: (secrets[spec.name] as Secret).secretArn,
        rotationLambdaArn: rotation.functionArn,
        rotationRules: { scheduleExpression: `rate(${rotationDays} days)` },
        // The first deploy holds placeholders; rotation starts after `npm run keys -- provision`.
        rotateImmediatelyOnUpdate: false,
      });
      schedule.node.addDependency(invoke);
    }

    // The admin key can mint any key: nobody but the rotation function and the account's
    // administrators may read it, whatever IAM policies say elsewhere in the account.
    const account = stack.account;
    admin.addToResourcePolicy(
      new PolicyStatement({
        sid: "OnlyRotationAndAdministratorsRead",
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ["secretsmanager:GetSecretValue"],
        resources: ["*"],
        conditions: {
          ArnNotLike: {
            "aws:PrincipalArn": [
              rotation.role?.roleArn as string,
              ...(settings.adminPrincipalArns ?? defaultAdminPrincipals(account)),
            ],
          },
        },
      }),
    );

    // A failed rotation is an alarm: the function's own errors, and Secrets Manager's
    // RotationFailed / RotationAbandoned events (kept in a log group for the audit trail).
    new Alarm(stack, "RotationErrors", {
      alarmDescription: "A key rotation step failed (see the RotateKey function's log)",
      metric: rotation.metricErrors({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const failedRotations = new Rule(stack, "RotationFailed", {
      description: "Secrets Manager gave up a rotation of one of this app's secrets",
      eventPattern: {
        source: ["aws.secretsmanager"],
        detailType: ["AWS Service Event via CloudTrail"],
        detail: { eventName: ["RotationFailed", "RotationAbandoned"] },
      },
      targets: [
        new CloudWatchLogGroup(
          new LogGroup(stack, "RotationFailures", {
            retention: RetentionDays.ONE_YEAR,
            removalPolicy: stack.stage === "prod" ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
          }),
        ),
      ],
    });
    new Alarm(stack, "RotationFailedEvents", {
      alarmDescription: "Secrets Manager reported a failed or abandoned key rotation",
      metric: new Metric({
        namespace: "AWS/Events",
        metricName: "TriggeredRules",
        dimensionsMap: { RuleName: failedRotations.ruleName },
        statistic: "Sum",
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    return { secrets, admin, rotation };
  }

  /** The state table: idempotency records, locks and job checkpoints, expiring through `expiration`. */
  function Storage({ stack }: StackContext) {
    const table = new Table(stack, "State", {
      fields: { id: "string" },
      primaryIndex: { partitionKey: "id" },
      timeToLiveAttribute: "expiration",
      cdk: { table: { pointInTimeRecovery: stack.stage === "prod" } },
    });
    stack.addOutputs({ StateTableName: table.tableName });
    return { table };
  }

  /** An HTTP API with one route per webhook function, throttled, with access logs. */
  function Webhooks({ stack }: StackContext) {
    const { secrets } = use(Keys);
    const { table } = use(Storage);
    const throttle = settings.throttle ?? { rate: 50, burst: 100 };
    const api = new Api(stack, "WebhooksApi", {
      accessLog: true,
      defaults: { throttle: { rate: throttle.rate, burst: throttle.burst } },
    });
    for (const spec of manifest.filter(isWebhook)) {
      const secret = secrets[spec.name] as Secret;
      const fn = manifestFunction(stack, spec, { flxblUrl, secret, table, stage: stack.stage, secretTtlSeconds });
      api.addRoutes(stack, { [`${spec.trigger.method} ${spec.trigger.path}`]: fn });
    }
    stack.addOutputs({ WebhooksUrl: api.url });
    return { api };
  }

  /** An EventBridge schedule per job, with retries, a dead-letter queue and an alarm on failures. */
  function Jobs({ stack }: StackContext) {
    const { secrets } = use(Keys);
    const { table } = use(Storage);
    const failures = new Queue(stack, "JobFailures", { retentionPeriod: Duration.days(14) });
    for (const spec of manifest.filter(isJob)) {
      const secret = secrets[spec.name] as Secret;
      const fn = manifestFunction(stack, spec, { flxblUrl, secret, table, stage: stack.stage, secretTtlSeconds });
      // A failed run (JobFailedError, or a crash) is retried twice by Lambda, then lands in the queue.
      fn.configureAsyncInvoke({ retryAttempts: 2, onFailure: new SqsDestination(failures) });
      new Cron(stack, `${pascal(spec.name)}Schedule`, {
        schedule: spec.trigger.expression,
        job: {
          function: fn,
          // EventBridge itself retries delivery, and parks what it cannot deliver in the same queue.
          cdk: { target: { retryAttempts: 2, maxEventAge: Duration.hours(2), deadLetterQueue: failures } },
        },
      });
      new Alarm(stack, `${pascal(spec.name)}Errors`, {
        alarmDescription: `${spec.name} failed`,
        metric: fn.metricErrors({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    }
    new Alarm(stack, "JobFailuresQueued", {
      alarmDescription: "A job run was given up on and parked in the failure queue",
      metric: failures.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    stack.addOutputs({ JobFailuresQueueUrl: failures.queueUrl });
    return { failures };
  }

  return { Keys, Storage, Webhooks, Jobs };
}
