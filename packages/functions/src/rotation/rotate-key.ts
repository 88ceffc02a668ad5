import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { createLogger, FlxblAdmin, type RotationEvent, rotateStep, SecretLoader } from "@flxbl-lambda/core";
import { z } from "zod/mini";

const env = z
  .object({
    FLXBL_URL: z.url(),
    ADMIN_SECRET_ARN: z.string().check(z.minLength(1)),
    ROTATION_GRACE_SECONDS: z._default(z.pipe(z.coerce.number(), z.int().check(z.nonnegative())), 360),
  })
  .parse(process.env);

const secrets = new SecretsManagerClient({});
const adminKey = new SecretLoader({ secretId: env.ADMIN_SECRET_ARN, client: secrets, ttlMs: 60_000 });
const logger = createLogger({ serviceName: "rotate-key" });

/**
 * The Secrets Manager rotation function of every function secret: a new FLXBL key with the same
 * scopes, tested with a real call, promoted, and the old key revoked after the grace period.
 * The only function that may read the admin secret.
 */
export async function handler(event: RotationEvent): Promise<void> {
  logger.appendKeys({ secretId: event.SecretId, step: event.Step });
  const admin = new FlxblAdmin({ baseUrl: env.FLXBL_URL, adminKey: (await adminKey.get()).apiKey });
  await rotateStep(event, {
    secrets,
    admin,
    graceMs: env.ROTATION_GRACE_SECONDS * 1000,
    log: (message, attributes) => logger.info(message, attributes ?? {}),
  });
}
