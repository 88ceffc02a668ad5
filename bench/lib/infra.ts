import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  ensureStateTable,
  type LocalDynamoDB,
  type LocalSecretsManager,
  startLocalDynamoDB,
  startLocalSecretsManager,
} from "@flxbl-lambda/aws-local";
import { functionEnvironment } from "@flxbl-lambda/core";
import type { Emulator } from "@flxbl-lambda/emulator";
import { newSigningSecret } from "@flxbl-lambda/provisioning";

export const region = "us-east-1";
export const tableName = "flxbl-lambda-bench-state";
const credentials = { accessKeyId: "local", secretAccessKey: "local" };

/** Closes what was started, last first; every close is attempted. */
export class Closers {
  readonly #closers: Array<{ what: string; close: () => Promise<void> }> = [];

  add(what: string, close: () => Promise<void>): void {
    this.#closers.push({ what, close });
  }

  async closeAll(): Promise<string[]> {
    const problems: string[] = [];
    while (this.#closers.length > 0) {
      const { what, close } = this.#closers.pop() as { what: string; close: () => Promise<void> };
      await close().catch((err: unknown) => problems.push(`${what}: ${(err as Error).message}`));
    }
    return problems;
  }
}

/** Calls the emulator as its admin. */
export async function admin<T>(flxbl: { url: string; adminKey: string }, method: string, path: string, body?: unknown) {
  const res = await fetch(`${flxbl.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${flxbl.adminKey}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`admin ${method} ${path} answered ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A function's own Secrets Manager endpoint (so its calls are counted alone) holding its secret. */
export interface FunctionSecret {
  sm: LocalSecretsManager;
  secretId: string;
  signingSecrets: string[];
}

/**
 * Provisions a function as the stacks and `npm start` do: a FLXBL key with exactly `scopes`, and a
 * secret `{apiKey, signingSecrets}`, here on an endpoint of its own.
 */
export async function provisionFunction(
  emulator: Emulator,
  name: string,
  scopes: readonly string[],
  closers: Closers,
  signature?: string,
): Promise<FunctionSecret> {
  const key = await admin<{ key: string }>(emulator, "POST", "/api-keys", { name: `bench/${name}`, scopes });
  const sm = await startLocalSecretsManager();
  closers.add(`secrets manager of ${name}`, () => sm.close());
  const secretId = `flxbl-lambda/bench/${name}`;
  const signingSecrets = [newSigningSecret(signature)];
  const client = new SecretsManagerClient({ endpoint: sm.url, region, credentials });
  await client.send(
    new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify({ apiKey: key.key, signingSecrets }) }),
  );
  client.destroy();
  sm.resetCalls();
  return { sm, secretId, signingSecrets };
}

/** dynalite with the state table, as the Storage stack defines it. */
export async function startStateTable(closers: Closers): Promise<LocalDynamoDB> {
  const ddb = await startLocalDynamoDB();
  closers.add("dynalite", () => ddb.close());
  const client = new DynamoDBClient({ endpoint: ddb.url, region, credentials });
  await ensureStateTable(client, tableName);
  client.destroy();
  return ddb;
}

/** The environment a function's stack gives it, pointed at the local servers. */
export function functionEnv(options: {
  name: string;
  memoryMb: number;
  timeoutSeconds: number;
  flxblUrl: string;
  secret: FunctionSecret;
  dynamodbUrl: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    ...functionEnvironment(
      { name: options.name, environment: options.extra },
      { flxblUrl: options.flxblUrl, secretId: options.secret.secretId, tableName, stage: "bench" },
    ),
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: options.secret.sm.url,
    AWS_ENDPOINT_URL_DYNAMODB: options.dynamodbUrl,
    AWS_LAMBDA_FUNCTION_NAME: options.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memoryMb),
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(options.timeoutSeconds),
  };
}
