import { rotationHandler } from "@flxbl-lambda/core/keys";
import { contractDefaults, flxblUrlProblem, manifestScopes } from "@flxbl-lambda/core/lambda";
import * as z from "zod/mini";
import { appName, manifest } from "../manifest.js";

const env = z
  .object({
    FLXBL_URL: z.string().check(z.refine((url) => flxblUrlProblem(url) === undefined, "must be https:")),
    ADMIN_SECRET_ARN: z.string().check(z.minLength(1)),
    APP_STAGE: z.string().check(z.minLength(1)),
    ROTATION_GRACE_SECONDS: z._default(
      z.pipe(z.coerce.number(), z.int().check(z.nonnegative())),
      contractDefaults.rotationGraceSeconds,
    ),
  })
  .parse(process.env);

/**
 * The Secrets Manager rotation function of every function secret: a new FLXBL key with the
 * manifest's scopes, tested with a real call, promoted, and the secret's old keys revoked after
 * the grace period. The only function that may read the admin secret. Its authority is the
 * manifest bundled with it, never the secret it rotates.
 */
export const handler = rotationHandler({
  flxblUrl: env.FLXBL_URL,
  adminSecretId: env.ADMIN_SECRET_ARN,
  scopesFor: manifestScopes(manifest, { app: appName, stage: env.APP_STAGE }),
  graceMs: env.ROTATION_GRACE_SECONDS * 1000,
});
