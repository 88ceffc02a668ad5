import { type JobSpec, metricNames, type WebhookSpec } from "@flxbl-lambda/core";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, type IMetric, MathExpression, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { type ITopic, Subscription, SubscriptionProtocol, Topic } from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import type { Stack } from "sst/constructs";
import { pascal } from "./functions.js";
import { appMetric, fiveMinutes, type MetricsPlace, scheduleGapSeconds } from "./metrics.js";
import { suppressFindings } from "./nag.js";

/**
 * The thresholds of the alarms built from the manifest (README, Deploy: "Alarms"). Each is a
 * judgement; change it here and the README together.
 */
export const alarmThresholds = {
  /** A webhook's 5xx answers plus its crashes and timeouts, as a percentage of its invocations, in 5 minutes. */
  webhookServerErrorPercent: 5,
  /** ...counted only when it had at least this many invocations in those 5 minutes (one 503 of 3 is not a trend). */
  webhookMinInvocations: 10,
  /**
   * Signature refusals of one webhook in 5 minutes: a sender's clock skew or a stray probe makes a
   * few; a signing secret rotated on one side only, or someone forging deliveries, makes a stream.
   */
  signatureRejections: 10,
  /** A function's FLXBL 429 answers (retries included, so it can pass 100) as a percentage of its FLXBL calls, in each of 3 consecutive 5-minute periods... */
  flxblThrottlePercent: 10,
  /** ...with at least this many calls in each (a job's first 429 teaches its client the pace: expected). */
  flxblMinCalls: 20,
  /**
   * Consecutive runs of a job that each left a checkpoint (`JobRunIncomplete`): a job may need a
   * few invocations to work through a backlog, but one that never completes is falling behind.
   * Each period is the schedule's longest gap between runs (at most a day), so a period holds one run.
   */
  incompleteRuns: 3,
} as const;

/** `≥ 1` in one period: something that should never happen happened. */
export function anyAlarm(scope: Construct, id: string, description: string, metric: IMetric): Alarm {
  return new Alarm(scope, id, {
    alarmDescription: description,
    metric,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}

/**
 * A percentage of `part` in `whole` over 5 minutes, 0 while `whole` is under `minimum`: a rate
 * alarm that a quiet period cannot trip with one bad request.
 */
function percentOf(parts: IMetric[], whole: IMetric, minimum: number, label: string): MathExpression {
  const usingMetrics: Record<string, IMetric> = { whole };
  const sum = parts
    .map((metric, i) => {
      usingMetrics[`part${i}`] = metric;
      return `FILL(part${i}, 0)`;
    })
    .join(" + ");
  return new MathExpression({
    expression: `IF(FILL(whole, 0) >= ${minimum}, 100 * (${sum}) / FILL(whole, 1), 0)`,
    usingMetrics,
    label,
    period: fiveMinutes,
  });
}

/** A webhook's alarms: its 5xx rate and a spike of signature refusals. */
export function webhookAlarms(scope: Construct, spec: WebhookSpec, fn: IFunction, place: MetricsPlace): Alarm[] {
  const id = pascal(spec.name);
  const t = alarmThresholds;
  const serverErrors = new Alarm(scope, `${id}ServerErrorRate`, {
    alarmDescription: `${spec.name} answered more than ${t.webhookServerErrorPercent}% of deliveries with a 5xx, crashed or timed out (5 min, at least ${t.webhookMinInvocations} invocations); senders retry, but FLXBL or Secrets Manager may be failing`,
    metric: percentOf(
      [appMetric(place, spec.name, metricNames.webhook.serverErrors), fn.metricErrors({ period: fiveMinutes })],
      fn.metricInvocations({ period: fiveMinutes }),
      t.webhookMinInvocations,
      "5xx and errors, % of invocations",
    ),
    threshold: t.webhookServerErrorPercent,
    evaluationPeriods: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  const rejections = new Alarm(scope, `${id}SignatureRejections`, {
    alarmDescription: `${spec.name} refused at least ${t.signatureRejections} deliveries by signature in 5 minutes: a signing secret out of step with the sender, or forged requests (see WebhookSignatureRejected by reason)`,
    metric: appMetric(place, spec.name, metricNames.webhook.signatureRejected),
    threshold: t.signatureRejections,
    evaluationPeriods: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  return [serverErrors, rejections];
}

/** A job's alarms: a failed run (the function's errors, `JobRunFailed` among them) and runs that never complete. */
export function jobAlarms(scope: Construct, spec: JobSpec, fn: IFunction, place: MetricsPlace): Alarm[] {
  const id = pascal(spec.name);
  const failed = anyAlarm(scope, `${id}Errors`, `${spec.name} failed`, fn.metricErrors({ period: fiveMinutes }));
  const runs = alarmThresholds.incompleteRuns;
  const gap = scheduleGapSeconds(spec.trigger.expression);
  const incomplete = new Alarm(scope, `${id}Incomplete`, {
    alarmDescription: `${spec.name} left a checkpoint in each of ${runs} consecutive runs (${gap / 60} min apart): it is not keeping up with its work`,
    metric: appMetric(place, spec.name, metricNames.job.incomplete, { period: Duration.seconds(gap) }),
    threshold: 1,
    evaluationPeriods: runs,
    datapointsToAlarm: runs,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    // A period without a run (a weekday schedule's weekend) breaks the streak.
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  return [failed, incomplete];
}

/** A function's FLXBL 429 rate, sustained for 15 minutes: its budget or the tenant's limit is too low. */
export function flxblThrottleAlarm(scope: Construct, name: string, place: MetricsPlace): Alarm {
  const t = alarmThresholds;
  return new Alarm(scope, `${pascal(name)}FlxblThrottled`, {
    alarmDescription: `FLXBL answered ${name} with 429s numbering more than ${t.flxblThrottlePercent}% of its calls (429 answers, retries included, per call) for 15 minutes (at least ${t.flxblMinCalls} calls each 5 min): raise the tenant's rate limit or lower the function's rateLimit`,
    metric: percentOf(
      [appMetric(place, name, metricNames.flxbl.throttled)],
      appMetric(place, name, metricNames.flxbl.calls),
      t.flxblMinCalls,
      "FLXBL 429s, % of calls",
    ),
    threshold: t.flxblThrottlePercent,
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}

/**
 * The alarm topic for `ALARM_EMAIL`: encrypted with its own rotating KMS key (CloudWatch cannot
 * publish to a topic under the AWS-managed SNS key), TLS only, publishable by this account's
 * CloudWatch alarms, with the address subscribed (AWS emails it a confirmation link).
 */
export function alarmTopic(stack: Stack, email: string): Topic {
  const cloudwatch = new ServicePrincipal("cloudwatch.amazonaws.com");
  const key = new Key(stack, "AlarmTopicKey", {
    description: `Encrypts ${stack.stackName}'s alarm notifications`,
    enableKeyRotation: true,
    removalPolicy: stack.stage === "prod" ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  key.addToResourcePolicy(
    new PolicyStatement({
      principals: [cloudwatch],
      actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
      resources: ["*"],
    }),
  );
  const topic = new Topic(stack, "AlarmTopic", {
    displayName: `${stack.stage} alarms`,
    masterKey: key,
    enforceSSL: true,
  });
  topic.addToResourcePolicy(
    new PolicyStatement({
      principals: [cloudwatch],
      actions: ["sns:Publish"],
      resources: [topic.topicArn],
      conditions: {
        ArnLike: { "aws:SourceArn": `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
      },
    }),
  );
  const subscription = new Subscription(stack, "AlarmEmail", {
    topic,
    protocol: SubscriptionProtocol.EMAIL,
    endpoint: email,
  });
  suppressFindings(subscription, "emailSubscription");
  return topic;
}

/** Makes every alarm of `stack`, whoever created it, notify `topic` when it fires and when it clears. */
export function notifyOnAlarms(stack: Stack, topic: ITopic | undefined): void {
  if (!topic) return;
  const action = new SnsAction(topic);
  for (const construct of stack.node.findAll()) {
    if (!(construct instanceof Alarm)) continue;
    construct.addAlarmAction(action);
    construct.addOkAction(action);
  }
}
