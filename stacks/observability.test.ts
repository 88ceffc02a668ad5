import { type FunctionSpec, metricNames, metricsNamespaceVariable } from "@flxbl-lambda/core";
import { manifest, rotationFunction } from "@flxbl-lambda/functions";
import { Aspects, Stack } from "aws-cdk-lib";
import { Annotations, Match, type Template } from "aws-cdk-lib/assertions";
import { Policy, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import type { App, Stack as SstStack } from "sst/constructs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import config from "../sst.config.js";
import { alarmThresholds } from "./alarms.js";
import { nightlyReportJob, repoEventsWebhook } from "./fixtures.js";
import { createStacks, type StackSettings } from "./index.js";
import { scheduleGapSeconds } from "./metrics.js";
import { checkSettings } from "./settings.js";
import { synthesize } from "./synth.js";

type Resource = { Type: string; Properties: Record<string, any> };

const byType = (t: Template, type: string) =>
  Object.entries(t.toJSON().Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);
const everyAlarm = (templates: Record<string, Template>) =>
  Object.values(templates).flatMap((t) => byType(t, "AWS::CloudWatch::Alarm").map(([, a]) => a.Properties));
/** The app's own functions (the manifest's and RotateKey), not SST's or CDK's helpers. */
const appFunctions = (templates: Record<string, Template>) =>
  Object.values(templates)
    .flatMap((t) => byType(t, "AWS::Lambda::Function"))
    .filter(([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME)
    .map(([, f]) => f.Properties);
/** Every metric an alarm reads, as text (its own metric, or those of its math expression). */
const alarmText = (alarm: Record<string, any>) => JSON.stringify(alarm);
const dashboardBody = (templates: Record<string, Template>) =>
  JSON.stringify(
    byType(templates.Monitoring as Template, "AWS::CloudWatch::Dashboard")[0]?.[1].Properties.DashboardBody,
  );

/** Every unsuppressed AwsSolutions or Serverless finding, error or warning, in every stack of `app`. */
function nagFindings(app: App): string[] {
  const pattern = Match.stringLikeRegexp("(AwsSolutions|Serverless)-");
  return app.node.children
    .filter((child): child is Stack => child instanceof Stack)
    .flatMap((stack) => {
      const annotations = Annotations.fromStack(stack);
      return [...annotations.findError("*", pattern), ...annotations.findWarning("*", pattern)];
    })
    .map((finding) => `${finding.id} ${String(finding.entry.data).split(":")[0]}`);
}

/** Synthesizes with both cdk-nag packs applied, as a platform team would run them over the app. */
function withNag(stacks: (app: App) => void) {
  return (app: App) => {
    Aspects.of(app).add(new AwsSolutionsChecks());
    Aspects.of(app).add(new ServerlessChecks());
    stacks(app);
  };
}

describe("operating the app: tracing, metrics, dashboard, alarms and cdk-nag", () => {
  /** prod, as sst.config.ts builds it with no alarm variables. */
  let prod: Awaited<ReturnType<typeof synthesize>>;
  /** dev with ALARM_TOPIC_ARN and WEBHOOK_RESERVED_CONCURRENCY=off, through sst.config.ts. */
  let imported: Awaited<ReturnType<typeof synthesize>>;
  /** dev with an alarm email, a reservation of 4 and two more manifest entries. */
  let grown: Awaited<ReturnType<typeof synthesize>>;
  const topicArn = "arn:aws:sns:us-east-1:123456789012:team-pager";

  beforeAll(async () => {
    prod = await synthesize({ stage: "prod", dotenv: false, stacks: withNag((app) => config.stacks(app)) });
    vi.stubEnv("ALARM_TOPIC_ARN", topicArn);
    vi.stubEnv("WEBHOOK_RESERVED_CONCURRENCY", "off");
    imported = await synthesize({ stage: "dev", dotenv: false, stacks: withNag((app) => config.stacks(app)) });
    vi.unstubAllEnvs();
    const settings: StackSettings = { alarmEmail: "ops@example.com", webhookReservedConcurrency: 4 };
    const { inOrder } = createStacks([...manifest, repoEventsWebhook, nightlyReportJob], settings);
    grown = await synthesize({
      stage: "dev",
      dotenv: false,
      stacks: withNag((app) => {
        app.setDefaultFunctionProps({ runtime: "nodejs22.x", architecture: "arm_64" });
        for (const stack of inOrder) app.stack(stack);
      }),
    });
  }, 180_000);

  afterAll(() => {
    vi.unstubAllEnvs();
  });

  describe("cdk-nag (AwsSolutions and Serverless packs)", () => {
    it.each([
      ["prod, no alarm topic", () => prod],
      ["dev with ALARM_TOPIC_ARN", () => imported],
      ["dev with ALARM_EMAIL and two more manifest entries", () => grown],
    ])("reports no unsuppressed error or warning: %s", (_, synthesized) => {
      expect(nagFindings(synthesized().app)).toEqual([]);
    });

    it("does report what nobody suppressed, and not what SST adds at deploy (its sourcemap uploader policy)", async () => {
      const { inOrder } = createStacks(manifest);
      const { app } = await synthesize({
        stage: "dev",
        dotenv: false,
        stacks: withNag((app) => {
          for (const stack of inOrder) app.stack(stack);
          const keys = app.node.children.find((c) => c instanceof Stack) as SstStack;
          new Queue(keys, "Unchecked");
          // What SST's app.finish() adds in a real `sst build` (not run offline): the same id and shape.
          const uploader = new Policy(keys, "SourcemapUploaderPolicy", {
            statements: [new PolicyStatement({ actions: ["s3:GetObject"], resources: ["arn:aws:s3:::sourcemaps/*"] })],
          });
          keys.customResourceHandler.role?.attachInlinePolicy(uploader);
        }),
      });
      const findings = nagFindings(app);
      expect(findings).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/Unchecked.*AwsSolutions-SQS4/),
          expect.stringMatching(/Unchecked.*AwsSolutions-SQS3/),
        ]),
      );
      expect(findings.every((f) => f.includes("Unchecked"))).toBe(true);
    }, 120_000);
  });

  describe("every function", () => {
    it("is traced by X-Ray (active tracing) and keeps response bodies out of its traces", () => {
      for (const { templates } of [prod, grown]) {
        const functions = appFunctions(templates);
        expect(functions.length).toBeGreaterThan(manifest.length);
        for (const fn of functions) {
          expect(fn.TracingConfig).toEqual({ Mode: "Active" });
          expect(fn.Environment.Variables.POWERTOOLS_TRACER_CAPTURE_RESPONSE).toBe("false");
        }
      }
    });

    it("writes its metrics to the namespace named after the app, the rotation function too", () => {
      const functions = appFunctions(prod.templates);
      const services = functions.map((f) => f.Environment.Variables.POWERTOOLS_SERVICE_NAME).sort();
      expect(services).toEqual([...manifest.map((s) => s.name), rotationFunction.name].sort());
      for (const fn of functions) expect(fn.Environment.Variables[metricsNamespaceVariable]).toBe(prod.app.name);
      expect(prod.app.name).toBe("flxbl-lambda");
    });
  });

  describe("reserved concurrency", () => {
    const reservations = (templates: Record<string, Template>) =>
      appFunctions(templates).map((f) => [
        f.Environment.Variables.POWERTOOLS_SERVICE_NAME,
        f.ReservedConcurrentExecutions,
      ]);

    it("reserves 10 for each webhook by default, and none for jobs and the rotation", () => {
      for (const [name, reserved] of reservations(prod.templates))
        expect(reserved, name).toBe(name.endsWith("-webhook") ? 10 : undefined);
    });

    it("takes another number from the settings, and none with WEBHOOK_RESERVED_CONCURRENCY=off", () => {
      expect(Object.fromEntries(reservations(grown.templates))).toMatchObject({
        "repo-events": 4,
        "payments-webhook": 4,
      });
      for (const [, reserved] of reservations(imported.templates)) expect(reserved).toBeUndefined();
    });
  });

  describe("the dashboard", () => {
    it("is named <app>-<stage> and lives in the Monitoring stack", () => {
      (prod.templates.Monitoring as Template).hasResourceProperties("AWS::CloudWatch::Dashboard", {
        DashboardName: "flxbl-lambda-prod",
      });
    });

    it("charts each manifest entry from the catalogue's metrics, with its stage", () => {
      const body = dashboardBody(prod.templates);
      for (const spec of manifest) {
        expect(body).toContain(`\\"service\\",\\"${spec.name}\\",\\"stage\\",\\"prod\\"`);
        const own = spec.trigger.kind === "http" ? Object.values(metricNames.webhook) : Object.values(metricNames.job);
        for (const name of [...own, ...Object.values(metricNames.flxbl), ...Object.values(metricNames.keys)])
          if (name !== metricNames.webhook.handled) expect(body, `${spec.name} ${name}`).toContain(`\\"${name}\\"`);
      }
      for (const name of Object.values(metricNames.rotation)) expect(body).toContain(`\\"${name}\\"`);
    });

    it("charts each function's Lambda errors, throttles, concurrency and the failure queue's depth", () => {
      const body = dashboardBody(prod.templates);
      for (const metric of ["Errors", "Throttles", "ConcurrentExecutions", "Duration"])
        expect(body).toContain(`\\"AWS/Lambda\\",\\"${metric}\\"`);
      // Each function by its own name, imported from its stack: the manifest's and RotateKey.
      for (const stack of ["Keys", "Webhooks", "Jobs"]) {
        const ids = byType(prod.templates[stack] as Template, "AWS::Lambda::Function")
          .filter(([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME)
          .map(([id]) => id);
        expect(ids.length).toBeGreaterThan(0);
        for (const id of ids) expect(body).toContain(`ExportsOutputRef${id}`);
      }
      expect(body).toContain("ApproximateNumberOfMessagesVisible");
      expect(body).toContain(`SEARCH('{\\\\\\"flxbl-lambda\\\\\\",operation,service,stage}`);
    });

    it("gets rows for a new manifest entry with no stack edit", () => {
      const body = dashboardBody(grown.templates);
      expect(body).toContain(`${repoEventsWebhook.name}: deliveries and outcomes`);
      expect(body).toContain(`${repoEventsWebhook.name}: FLXBL calls`);
      expect(body).toContain(`${nightlyReportJob.name}: records`);
      expect(body).toContain(`\\"service\\",\\"${nightlyReportJob.name}\\",\\"stage\\",\\"dev\\"`);
    });
  });

  describe("the alarms built from the manifest", () => {
    const webhooks = [...manifest, repoEventsWebhook].filter((s) => s.trigger.kind === "http");
    const jobs = [...manifest, nightlyReportJob].filter((s) => s.trigger.kind === "schedule");
    const findAlarm = (templates: Record<string, Template>, metric: string, service: string) =>
      everyAlarm(templates).filter(
        (a) =>
          alarmText(a).includes(`"MetricName":"${metric}","Namespace":"flxbl-lambda"`) &&
          alarmText(a).includes(`{"Name":"service","Value":"${service}"}`),
      );

    it.each(webhooks.map((s) => [s.name]))("alarms on %s's 5xx rate above 5% of at least 10 invocations", (name) => {
      const [alarm] = findAlarm(grown.templates, metricNames.webhook.serverErrors, name);
      expect(alarm).toMatchObject({ Threshold: alarmThresholds.webhookServerErrorPercent, EvaluationPeriods: 1 });
      expect(alarm?.Metrics[0].Expression).toBe(
        "IF(FILL(whole, 0) >= 10, 100 * (FILL(part0, 0) + FILL(part1, 0)) / FILL(whole, 1), 0)",
      );
      expect(alarmText(alarm ?? {})).toContain('"MetricName":"Invocations"');
    });

    it.each(webhooks.map((s) => [s.name]))("alarms on a spike of %s's signature refusals", (name) => {
      const [alarm] = findAlarm(grown.templates, metricNames.webhook.signatureRejected, name);
      expect(alarm).toMatchObject({ Threshold: alarmThresholds.signatureRejections, EvaluationPeriods: 1 });
    });

    it.each(jobs.map((s) => [s.name, s]))("alarms when %s leaves a checkpoint 3 runs in a row", (name, spec) => {
      const [alarm] = findAlarm(grown.templates, metricNames.job.incomplete, name);
      const period = scheduleGapSeconds(
        (spec as FunctionSpec & { trigger: { expression: string } }).trigger.expression,
      );
      expect(alarm).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 3, Threshold: 1 });
      expect(alarm?.Metrics[0].MetricStat.Period).toBe(period);
    });

    it("gives each job's incomplete alarm one run per period: 15 minutes, a day, a weekday schedule's day", () => {
      expect(scheduleGapSeconds("rate(15 minutes)")).toBe(900);
      expect(scheduleGapSeconds("cron(0 6 * * ? *)")).toBe(86_400);
      expect(scheduleGapSeconds("cron(0 7 ? * MON-FRI *)")).toBe(86_400);
      expect(scheduleGapSeconds("rate(1 minute)")).toBe(60);
    });

    it.each([...webhooks, ...jobs].map((s) => [s.name]))(
      "alarms when %s's FLXBL 429s pass 10% for 3 periods",
      (name) => {
        const [alarm] = findAlarm(grown.templates, metricNames.flxbl.throttled, name);
        expect(alarm).toMatchObject({
          Threshold: alarmThresholds.flxblThrottlePercent,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 3,
        });
        expect(alarmText(alarm ?? {})).toContain(`"MetricName":"${metricNames.flxbl.calls}"`);
      },
    );
  });

  describe("the alarm topic", () => {
    it("notifies nobody when none is configured", () => {
      const alarms = everyAlarm(prod.templates);
      expect(alarms.length).toBeGreaterThan(10);
      for (const alarm of alarms) {
        expect(alarm.AlarmActions).toBeUndefined();
        expect(alarm.OKActions).toBeUndefined();
      }
      expect(prod.templates.Alerts).toBeUndefined();
    });

    it("with ALARM_TOPIC_ARN, makes every alarm (the older ones too) notify that topic on alarm and on OK", () => {
      const alarms = everyAlarm(imported.templates);
      expect(alarms.map((a) => a.AlarmDescription)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/rotation/),
          expect.stringMatching(/failure queue/),
          expect.stringMatching(/invariant/),
        ]),
      );
      for (const alarm of alarms) {
        expect(alarm.AlarmActions).toEqual([topicArn]);
        expect(alarm.OKActions).toEqual([topicArn]);
      }
      expect(imported.templates.Alerts).toBeUndefined();
    });

    it("with ALARM_EMAIL, creates a KMS-encrypted, TLS-only topic subscribed by the address, and every alarm notifies it", () => {
      const alerts = grown.templates.Alerts as Template;
      const [topicId, topic] = byType(alerts, "AWS::SNS::Topic")[0] ?? [];
      expect(topic?.Properties.KmsMasterKeyId).toBeDefined();
      alerts.hasResourceProperties("AWS::KMS::Key", { EnableKeyRotation: true });
      alerts.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "ops@example.com" });
      alerts.hasResourceProperties("AWS::SNS::TopicPolicy", {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
            Match.objectLike({
              Effect: "Allow",
              Principal: { Service: "cloudwatch.amazonaws.com" },
              Action: "sns:Publish",
            }),
          ]),
        },
      });
      const alarms = everyAlarm(grown.templates);
      for (const alarm of alarms) {
        expect(JSON.stringify(alarm.AlarmActions)).toContain(`ExportsOutputRef${topicId}`);
        expect(alarm.OKActions).toEqual(alarm.AlarmActions);
      }
    });

    it("refuses ALARM_EMAIL and ALARM_TOPIC_ARN together, and either one malformed", () => {
      expect(() => checkSettings(manifest, { alarmEmail: "ops@example.com", alarmTopicArn: topicArn })).toThrow(
        /not both/,
      );
      expect(() => checkSettings(manifest, { alarmEmail: "ops" })).toThrow(/ALARM_EMAIL must be an email address/);
      expect(() => checkSettings(manifest, { alarmTopicArn: "team-pager" })).toThrow(
        /ALARM_TOPIC_ARN must be an SNS topic ARN/,
      );
      expect(() => checkSettings(manifest, { webhookReservedConcurrency: 0 })).toThrow(/at least 1, or false/);
    });
  });
});
