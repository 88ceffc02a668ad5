import { AspectPriority, Aspects, CfnResource, type IAspect, type Stack } from "aws-cdk-lib";
import type { Role } from "aws-cdk-lib/aws-iam";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import { type NagPackSuppression, NagSuppressions } from "cdk-nag";
import type { IConstruct } from "constructs";

/**
 * Every cdk-nag finding this app accepts (AwsSolutions and Serverless packs), each suppressed on
 * the resource it is about with the reason in one line, at synth time. Whoever runs cdk-nag over
 * the app (`stacks/observability.test.ts`, or a platform team's own `Aspects.of(app).add(new AwsSolutionsChecks())`
 * in `sst.config.ts`) sees these and nothing else. A finding that should be fixed is fixed in the
 * stacks instead (access-log retention and JSON format, SQS and SNS TLS, CORS off, reserved
 * concurrency, tracing, the alarm topic's KMS key).
 */

/** The managed policy every Lambda role gets from CDK: CloudWatch Logs writes (create group and stream, put events). */
const basicExecutionRole = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

const reasons = {
  basicExecution:
    "AWSLambdaBasicExecutionRole grants only the CloudWatch Logs writes every function needs to log; AWS maintains it",
  xray: "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource ARN: '*' is the only possible resource",
  runtime:
    "nodejs22.x is the Node line the code is built and tested on (package.json engines); move with engines, not ahead of it",
  webhookDlq:
    "API Gateway invokes webhooks synchronously: a Lambda DLQ applies to async invokes only; the sender retries on a 5xx (503 + Retry-After)",
  jobDlq:
    "failed runs go to the JobFailures queue through the async invoke config's on-failure destination, which supersedes a DLQ",
  rotationDlq:
    "Secrets Manager invokes the rotation synchronously and reports a failure as a RotationFailed event, which alarms",
  sstHandler: "SST's own custom-resource handler (stack outputs, sourcemaps); its code and settings are SST's",
  cdkSingleton:
    "a CDK-provided singleton function run by CloudFormation at deploy time only; its code and role are CDK's",
  logRetention: "CDK's log-retention custom resource sets retention on log groups whose names it learns at deploy time",
  logResourcePolicy:
    "logs:PutResourcePolicy has no resource-level permissions; CDK writes the EventBridge-to-log-group policy with it",
  adminSecret:
    "the admin key mints and revokes the function keys, so no function can rotate it; it is renewed by hand (npm run keys)",
  route: "webhooks authenticate each request by its sender's signature (HMAC over the raw body), not by an authorizer",
  failureQueue:
    "JobFailures is itself the dead-letter queue (Lambda on-failure destination and EventBridge DLQ); nothing redrives it",
  rotationEvents:
    "the alarm counts TriggeredRules, so a rotation failure alarms even if its copy to the audit log group is lost",
  devTable:
    "non-prod stages are disposable (removal policy destroy) and the table holds only expiring idempotency records, locks and checkpoints",
  emailSubscription:
    "an email subscription: an undeliverable notification has no reader a queue would help; the alarm's state stays in CloudWatch",
};

/**
 * Suppresses what is accepted on one of the app's functions (a manifest function or RotateKey):
 * the basic-execution managed policy, X-Ray's `*` resource, the runtime line, and the DLQ rule
 * for the way it is invoked.
 */
export function suppressFunctionFindings(fn: LambdaFunction, invokedAs: "webhook" | "job" | "rotation"): void {
  const dlqReason = { webhook: reasons.webhookDlq, job: reasons.jobDlq, rotation: reasons.rotationDlq }[invokedAs];
  NagSuppressions.addResourceSuppressions(fn, [
    { id: "AwsSolutions-L1", reason: reasons.runtime },
    { id: "Serverless-LambdaLatestVersion", reason: reasons.runtime },
    { id: "Serverless-LambdaDLQ", reason: dlqReason },
  ]);
  const role = fn.role as Role;
  NagSuppressions.addResourceSuppressions(role, [
    { id: "AwsSolutions-IAM4", reason: reasons.basicExecution, appliesTo: [basicExecutionRole] },
  ]);
  // Only the X-Ray statement names "*" (stacks.test.ts checks that every "*" statement is X-Ray's).
  const policy = role.node.tryFindChild("DefaultPolicy");
  if (policy)
    NagSuppressions.addResourceSuppressions(policy, [
      { id: "AwsSolutions-IAM5", reason: reasons.xray, appliesTo: ["Resource::*"] },
    ]);
}

/** The findings accepted on one resource of the app's own, by what the resource is. */
const acceptedOn = {
  /** The admin key's secret: the app whose keys it mints cannot rotate it. */
  adminSecret: [{ id: "AwsSolutions-SMG4", reason: reasons.adminSecret }],
  /** A webhook route: authenticated by signature. */
  webhookRoute: [{ id: "AwsSolutions-APIG4", reason: reasons.route }],
  /** The job failure queue: it is the DLQ. */
  failureQueue: [
    { id: "AwsSolutions-SQS3", reason: reasons.failureQueue },
    { id: "Serverless-SQSRedrivePolicy", reason: reasons.failureQueue },
  ],
  /** The rule copying Secrets Manager's RotationFailed events to a log group. */
  rotationEventsRule: [{ id: "Serverless-EventBusDLQ", reason: reasons.rotationEvents }],
  /** The state table outside prod: no point-in-time recovery. */
  devStateTable: [{ id: "AwsSolutions-DDB3", reason: reasons.devTable }],
  /** The alarm topic's email subscription. */
  emailSubscription: [{ id: "Serverless-SNSRedrivePolicy", reason: reasons.emailSubscription }],
} satisfies Record<string, NagPackSuppression[]>;

/** Suppresses on `construct` (and the resources under it) what {@link acceptedOn} accepts for `what` it is. */
export function suppressFindings(construct: IConstruct, what: keyof typeof acceptedOn): void {
  NagSuppressions.addResourceSuppressions(construct, acceptedOn[what], true);
}

const lambdaRules = (reason: string) =>
  ["AwsSolutions-L1", "Serverless-LambdaLatestVersion", "Serverless-LambdaDLQ", "Serverless-LambdaTracing"].map(
    (id) => ({ id, reason }),
  );

/**
 * What SST and CDK add to a stack by themselves, found by their construct ids: SST's
 * `CustomResourceHandler` (in every stack) and, in a real `sst build`, its `SourcemapUploaderPolicy`;
 * CDK's log-retention singleton; the `AwsCustomResource` singleton and policy behind an
 * EventBridge-to-log-group target. Some appear only after the stack function returns (SST adds
 * the sourcemap uploader in `app.finish()`), so this is an aspect that runs at synth, before any
 * cdk-nag pack (mutating priority), and adds each suppression on the resource itself.
 */
class ProvidedResourceSuppressions implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof CfnResource)) return;
    const [, owner, ...rest] = node.node.path.split("/");
    const path = rest.join("/");
    const suppress = (...suppressions: NagPackSuppression[]) =>
      NagSuppressions.addResourceSuppressions(node, suppressions);
    if (owner === "CustomResourceHandler" && path === "Resource") suppress(...lambdaRules(reasons.sstHandler));
    else if (owner === "CustomResourceHandler" && path === "ServiceRole/Resource")
      suppress({ id: "AwsSolutions-IAM4", reason: reasons.sstHandler, appliesTo: [basicExecutionRole] });
    else if (owner === "SourcemapUploaderPolicy")
      // Read the CDK bootstrap bucket's sourcemap objects and write SST's: object keys are generated.
      suppress({ id: "AwsSolutions-IAM5", reason: reasons.sstHandler });
    else if (owner?.startsWith("LogRetention") && path === "ServiceRole/Resource")
      suppress({ id: "AwsSolutions-IAM4", reason: reasons.logRetention, appliesTo: [basicExecutionRole] });
    else if (owner?.startsWith("LogRetention") && path === "ServiceRole/DefaultPolicy/Resource")
      suppress({ id: "AwsSolutions-IAM5", reason: reasons.logRetention, appliesTo: ["Resource::*"] });
    else if (owner === "AWS679f53fac002430cb0da5b7982bd2287" && path === "Resource")
      suppress(...lambdaRules(reasons.cdkSingleton), {
        id: "Serverless-LambdaDefaultMemorySize",
        reason: reasons.cdkSingleton,
      });
    else if (owner === "AWS679f53fac002430cb0da5b7982bd2287" && path === "ServiceRole/Resource")
      suppress({ id: "AwsSolutions-IAM4", reason: reasons.cdkSingleton, appliesTo: [basicExecutionRole] });
    else if (owner?.startsWith("EventsLogGroupPolicy") && path === "CustomResourcePolicy/Resource")
      suppress({ id: "AwsSolutions-IAM5", reason: reasons.logResourcePolicy, appliesTo: ["Resource::*"] });
  }
}

/**
 * Registers the suppressions for what SST and CDK add to `stack` by themselves (see
 * {@link ProvidedResourceSuppressions}). Every stack function calls it once.
 */
export function suppressProvidedResourceFindings(stack: Stack): void {
  Aspects.of(stack).add(new ProvidedResourceSuppressions(), { priority: AspectPriority.MUTATING });
}
