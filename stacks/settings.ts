import { contractDefaults, type FunctionSpec, flxblUrlProblem } from "@flxbl-lambda/core";
import { rotationFunction } from "@flxbl-lambda/functions";

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
  /**
   * An address every alarm notifies (`ALARM_EMAIL`): the stacks create an SNS topic (KMS-encrypted,
   * TLS only) with this email subscription, which AWS asks the address to confirm.
   * Not together with `alarmTopicArn`. @default none
   */
  alarmEmail?: string;
  /**
   * An existing SNS topic every alarm notifies (`ALARM_TOPIC_ARN`), for a team's paging or chat
   * integration. If it is encrypted, its KMS key must let `cloudwatch.amazonaws.com` use it.
   * Not together with `alarmEmail`. @default none
   */
  alarmTopicArn?: string;
  /**
   * Concurrency reserved for each webhook function (`WEBHOOK_RESERVED_CONCURRENCY`): also its cap,
   * so a flood of deliveries cannot take the account's whole concurrency from the jobs and the
   * rotation. `false` reserves none (an account whose concurrency limit is under
   * 100 + the reservations cannot reserve any: Lambda keeps 100 unreserved). @default 10
   */
  webhookReservedConcurrency?: number | false;
}

/** @see StackSettings.webhookReservedConcurrency */
export const defaultWebhookReservedConcurrency = 10;

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
  if (settings.alarmEmail && settings.alarmTopicArn)
    problems.push(
      "set ALARM_EMAIL or ALARM_TOPIC_ARN, not both (to email an existing topic, subscribe the address to that topic)",
    );
  if (settings.alarmEmail && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(settings.alarmEmail))
    problems.push(`ALARM_EMAIL must be an email address, not "${settings.alarmEmail}"`);
  if (
    settings.alarmTopicArn &&
    !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/.test(settings.alarmTopicArn)
  )
    problems.push(
      `ALARM_TOPIC_ARN must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), not "${settings.alarmTopicArn}"`,
    );
  const reserved = settings.webhookReservedConcurrency;
  if (reserved !== undefined && reserved !== false && !(Number.isInteger(reserved) && reserved >= 1))
    problems.push(
      `webhookReservedConcurrency must be a whole number of at least 1, or false for none, not ${reserved} (WEBHOOK_RESERVED_CONCURRENCY=off reserves none)`,
    );
  if (problems.length > 0) throw new Error(`Invalid stack settings:\n  ${problems.join("\n  ")}`);
}
