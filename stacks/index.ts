import {
  adminSecretName,
  contractDefaults,
  type FunctionSpec,
  functionSecretName,
  type JobSpec,
  rotationEnvironment,
  type WebhookSpec,
} from "@flxbl-lambda/core";
import { rotationFunction } from "@flxbl-lambda/functions";
import { Duration, RemovalPolicy, SecretValue } from "aws-cdk-lib";
import { CfnRoute } from "aws-cdk-lib/aws-apigatewayv2";
import { Metric } from "aws-cdk-lib/aws-cloudwatch";
import { Rule } from "aws-cdk-lib/aws-events";
import { CloudWatchLogGroup } from "aws-cdk-lib/aws-events-targets";
import { AnyPrincipal, Effect, PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { CfnRotationSchedule, Secret } from "aws-cdk-lib/aws-secretsmanager";
import { type ITopic, Topic } from "aws-cdk-lib/aws-sns";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { Api, Cron, Function as SstFunction, type Stack, type StackContext, Table, use } from "sst/constructs";
import { alarmTopic, anyAlarm, flxblThrottleAlarm, jobAlarms, notifyOnAlarms, webhookAlarms } from "./alarms.js";
import { observabilityDashboard } from "./dashboard.js";
import {
  type FunctionWiring,
  manifestFunction,
  pascal,
  tracingEnvironment,
  webhookAccessLogFormat,
} from "./functions.js";
import { suppressFindings, suppressFunctionFindings, suppressProvidedResourceFindings } from "./nag.js";
import {
  checkSettings,
  defaultAdminPrincipals,
  defaultWebhookReservedConcurrency,
  type StackSettings,
} from "./settings.js";

export { checkSettings, defaultAdminPrincipals, type StackSettings } from "./settings.js";

/** The name of a function's secret: `<app>/<stage>/<function>`; the admin key's is `<app>/<stage>/admin`. */
export function secretName(app: { name: string; stage: string }, fn: string): string {
  return fn === "admin"
    ? adminSecretName({ app: app.name, stage: app.stage })
    : functionSecretName({ app: app.name, stage: app.stage }, fn);
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
 *   for (const stack of createStacks(manifest, { alarmEmail: "ops@example.com" }).inOrder) app.stack(stack);
 * }
 * ```
 */
export function createStacks(manifest: readonly FunctionSpec[], settings: StackSettings = {}) {
  checkSettings(manifest, settings);
  const flxblUrl = settings.flxblUrl ?? "https://api.flxbl.dev/api/v1";
  const rotationDays = settings.rotationDays ?? 30;
  const rotationGraceSeconds = settings.rotationGraceSeconds ?? contractDefaults.rotationGraceSeconds;
  const secretTtlSeconds = settings.secretTtlSeconds ?? contractDefaults.secretTtlSeconds;
  const reserved = settings.webhookReservedConcurrency ?? defaultWebhookReservedConcurrency;
  // Metrics go to a namespace named after the app, with the stage as a dimension.
  const place = ({ app, stack }: StackContext) => ({ namespace: app.name, stage: stack.stage });

  /** The SNS topic for `ALARM_EMAIL`, in a stack of its own that every other one uses. Only with an email. */
  function Alerts({ stack }: StackContext) {
    const topic = alarmTopic(stack, settings.alarmEmail as string);
    stack.addOutputs({ AlarmTopicArn: topic.topicArn });
    suppressProvidedResourceFindings(stack);
    return { topic };
  }

  /** The topic every alarm of `stack` notifies, if one was configured. */
  function topicFor(stack: Stack): ITopic | undefined {
    if (settings.alarmTopicArn) return Topic.fromTopicArn(stack, "AlarmTopic", settings.alarmTopicArn);
    if (settings.alarmEmail) return use(Alerts).topic;
    return undefined;
  }

  /** What every stack function ends with: its alarms notify the topic; SST's and CDK's own resources get their suppressions. */
  function finish(stack: Stack) {
    notifyOnAlarms(stack, topicFor(stack));
    suppressProvidedResourceFindings(stack);
  }

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
    suppressFindings(admin, "adminSecret");

    const rotation = new SstFunction(stack, "RotateKey", {
      handler: rotationFunction.handler,
      description: rotationFunction.description,
      // finishSecret waits out the grace period before revoking the old key.
      timeout: rotationFunction.timeoutSeconds,
      memorySize: rotationFunction.memoryMb,
      tracing: "active",
      // With the manifest bundled in the function, the stage names which secrets it may rotate
      // and with which scopes: its authority, never the secret's own content.
      environment: {
        ...rotationEnvironment({
          name: rotationFunction.name,
          flxblUrl,
          adminSecretId: admin.secretArn,
          stage: stack.stage,
          graceSeconds: rotationGraceSeconds,
          metricsNamespace: app.name,
        }),
        ...tracingEnvironment,
      },
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
    anyAlarm(
      stack,
      "RotationErrors",
      "A key rotation step failed (see the RotateKey function's log)",
      rotation.metricErrors({ period: Duration.minutes(5) }),
    );
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
          // CDK writes the log group's resource policy at deploy with the Lambda runtime's own SDK, not one fetched from npm.
          { installLatestAwsSdk: false },
        ),
      ],
    });
    suppressFindings(failedRotations, "rotationEventsRule");
    anyAlarm(
      stack,
      "RotationFailedEvents",
      "Secrets Manager reported a failed or abandoned key rotation",
      new Metric({
        namespace: "AWS/Events",
        metricName: "TriggeredRules",
        dimensionsMap: { RuleName: failedRotations.ruleName },
        statistic: "Sum",
        period: Duration.minutes(5),
      }),
    );
    suppressFunctionFindings(rotation, "rotation");
    finish(stack);
    return { secrets, admin, rotation };
  }

  /** The state table: idempotency records, locks and job checkpoints, expiring through `expiration`. */
  function Storage({ stack }: StackContext) {
    const prod = stack.stage === "prod";
    const table = new Table(stack, "State", {
      fields: { id: "string" },
      primaryIndex: { partitionKey: "id" },
      timeToLiveAttribute: "expiration",
      cdk: { table: { pointInTimeRecovery: prod } },
    });
    if (!prod) suppressFindings(table.cdk.table, "devStateTable");
    stack.addOutputs({ StateTableName: table.tableName });
    finish(stack);
    return { table };
  }

  /** A manifest entry's function in its stack: its own secret, the state table, the app's metrics namespace. */
  function deploy(context: StackContext, spec: FunctionSpec, extra: Partial<FunctionWiring> = {}) {
    const { secrets } = use(Keys);
    const { table } = use(Storage);
    return manifestFunction(context.stack, spec, {
      flxblUrl,
      secret: secrets[spec.name] as Secret,
      table,
      stage: context.stack.stage,
      secretTtlSeconds,
      metricsNamespace: context.app.name,
      ...extra,
    });
  }

  /**
   * An HTTP API with one route per webhook function: throttled, JSON access logs kept a month,
   * no CORS (senders are servers), each function with reserved concurrency, and its alarms.
   */
  function Webhooks(context: StackContext) {
    const { stack } = context;
    const throttle = settings.throttle ?? { rate: 50, burst: 100 };
    const api = new Api(stack, "WebhooksApi", {
      accessLog: { retention: "one_month", format: webhookAccessLogFormat },
      cors: false,
      defaults: { throttle: { rate: throttle.rate, burst: throttle.burst } },
    });
    const functions: Record<string, IFunction> = {};
    for (const spec of manifest.filter(isWebhook)) {
      const fn = deploy(context, spec, { reservedConcurrency: reserved === false ? undefined : reserved });
      const routeKey = `${spec.trigger.method} ${spec.trigger.path}`;
      api.addRoutes(stack, { [routeKey]: fn });
      for (const route of stack.node.findAll())
        if (route instanceof CfnRoute && route.routeKey === routeKey) suppressFindings(route, "webhookRoute");
      webhookAlarms(stack, spec, fn, place(context));
      flxblThrottleAlarm(stack, spec.name, place(context));
      functions[spec.name] = fn;
    }
    stack.addOutputs({ WebhooksUrl: api.url });
    finish(stack);
    return { api, functions };
  }

  /** An EventBridge schedule per job, with retries, a dead-letter queue, and its alarms (failures, incomplete runs, FLXBL 429s). */
  function Jobs(context: StackContext) {
    const { stack } = context;
    const failures = new Queue(stack, "JobFailures", { retentionPeriod: Duration.days(14), enforceSSL: true });
    suppressFindings(failures, "failureQueue");
    const functions: Record<string, IFunction> = {};
    for (const spec of manifest.filter(isJob)) {
      const fn = deploy(context, spec);
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
      jobAlarms(stack, spec, fn, place(context));
      flxblThrottleAlarm(stack, spec.name, place(context));
      functions[spec.name] = fn;
    }
    anyAlarm(
      stack,
      "JobFailuresQueued",
      "A job run was given up on and parked in the failure queue",
      failures.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
    );
    stack.addOutputs({ JobFailuresQueueUrl: failures.queueUrl });
    finish(stack);
    return { failures, functions };
  }

  /** The stage's CloudWatch dashboard, `<app>-<stage>`, built from the manifest. */
  function Monitoring(context: StackContext) {
    const { stack } = context;
    const { rotation } = use(Keys);
    const webhooks = use(Webhooks);
    const jobs = use(Jobs);
    const dashboard = observabilityDashboard(stack, place(context), {
      manifest,
      functions: { ...webhooks.functions, ...jobs.functions },
      rotation: { name: rotationFunction.name, fn: rotation },
      api: webhooks.api.cdk.httpApi,
      failures: jobs.failures,
    });
    stack.addOutputs({ DashboardName: dashboard.dashboardName });
    finish(stack);
    return { dashboard };
  }

  /** The stacks in the order `app.stack()` takes them: `Alerts` only with an alarm email. */
  const inOrder = [...(settings.alarmEmail ? [Alerts] : []), Keys, Storage, Webhooks, Jobs, Monitoring];
  return { Alerts, Keys, Storage, Webhooks, Jobs, Monitoring, inOrder };
}
