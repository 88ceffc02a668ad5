import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { FlxblAdmin, type FunctionSpec } from "@flxbl-lambda/core";
import type { InvokeOutcome } from "../function-host.js";
import type { RuntimeInfo } from "../runtime.js";
import type { InvocationRecorder } from "./recorder.js";

/** What the console needs of the running app; `startRuntime` builds it. */
export interface ConsoleContext {
  manifest: readonly FunctionSpec[];
  /** `runtime.json`'s content (the gateway URL is known once it listens). */
  info(): RuntimeInfo;
  recorder: InvocationRecorder;
  /** Runs a job now, as `POST /_local/jobs/<name>` does: its request id at once, its outcome later. */
  runJob(name: string): { requestId: string; done: Promise<InvokeOutcome> };
  secrets: SecretsManagerClient;
  secretName(fn: string): string;
  /** The state table, where a running job keeps its checkpoint. */
  state: { client: DynamoDBClient; tableName: string };
  /** The FLXBL schema's entity names (the data browser's entities). */
  entities: readonly string[];
  /** How long a rotated-out key keeps working (`ROTATION_GRACE_SECONDS`). */
  graceSeconds: number;
}

/** A FLXBL admin client on the app's FLXBL. */
export const adminOf = (ctx: ConsoleContext) =>
  new FlxblAdmin({ baseUrl: ctx.info().flxbl.url, adminKey: ctx.info().flxbl.adminKey });

/** The manifest's entry of that name. */
export const specOf = (ctx: ConsoleContext, name: string) => ctx.manifest.find((s) => s.name === name);
