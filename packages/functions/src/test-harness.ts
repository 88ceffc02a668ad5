import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  ensureStateTable,
  type LocalDynamoDB,
  type LocalSecretsManager,
  startLocalDynamoDB,
  startLocalSecretsManager,
} from "@flxbl-lambda/aws-local";
import {
  type FunctionSpec,
  functionEnvironment,
  httpApiEvent,
  lambdaContext,
  type WebhookAnswer,
  webhookAnswer,
} from "@flxbl-lambda/core";
import { type Emulator, type EmulatorConfig, startEmulator } from "@flxbl-lambda/emulator";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { vi } from "vitest";
import appSchema from "../flxbl/schema.json" with { type: "json" };

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** A function's handler as the tests call it. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** A provisioned function: its own FLXBL key (exactly its scopes) and its own secret. */
export interface Provisioned {
  secretId: string;
  apiKey: string;
  keyId: string;
  signingSecrets: string[];
}

/**
 * A Stripe `payment_intent.succeeded` event for an order, as Stripe sends it (a new event id each
 * time unless given), for the tests that deliver one payment.
 */
export function paymentSucceeded(orderId: string, options: { amount?: number; intentId?: string } = {}) {
  return {
    id: `evt_${randomUUID().replaceAll("-", "")}`,
    object: "event",
    created: Math.floor(Date.now() / 1000),
    type: "payment_intent.succeeded",
    data: {
      object: {
        id: options.intentId ?? `pi_${randomUUID().replaceAll("-", "").slice(0, 24)}`,
        object: "payment_intent",
        amount: options.amount ?? 2500,
        currency: "eur",
        status: "succeeded",
        metadata: { orderId },
      },
    },
  };
}

/** The signing-secret generator provisioning uses, so tests sign with secrets of the same form. */
export { newSigningSecret } from "@flxbl-lambda/provisioning";

/**
 * Everything a function talks to, on loopback: the FLXBL emulator, a Secrets Manager endpoint
 * and dynalite with the state table. Functions run unchanged; the environment points them here.
 */
export class Harness {
  readonly tableName = "flxbl-lambda-test-state";
  private constructor(
    readonly flxbl: Emulator,
    readonly secretsManager: LocalSecretsManager,
    readonly dynamodb: LocalDynamoDB,
  ) {}

  static async start(emulator: Partial<EmulatorConfig> = {}): Promise<Harness> {
    const [flxbl, sm, ddb] = await Promise.all([
      startEmulator({ schema: appSchema, ...emulator }),
      startLocalSecretsManager(),
      startLocalDynamoDB(),
    ]);
    const harness = new Harness(flxbl, sm, ddb);
    // The SDK reads these, as it would read the real endpoints' configuration in AWS.
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = sm.url;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = ddb.url;
    process.env.AWS_REGION = "us-east-1";
    process.env.AWS_ACCESS_KEY_ID = "local";
    process.env.AWS_SECRET_ACCESS_KEY = "local";
    await ensureStateTable(new DynamoDBClient({}), harness.tableName);
    return harness;
  }

  /** Calls the emulator as its admin, over HTTP. */
  async admin<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.flxbl.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.flxbl.adminKey}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`admin ${method} ${path} answered ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Creates the function's FLXBL key with exactly its manifest scopes, and its secret. */
  async provision(spec: FunctionSpec, signingSecrets: string[] = []): Promise<Provisioned> {
    const created = await this.admin<{ id: string; key: string }>("POST", "/api-keys", {
      name: `test/${spec.name}`,
      scopes: spec.scopes,
    });
    const secretId = `flxbl-lambda/test/${spec.name}`;
    const value = JSON.stringify({ apiKey: created.key, signingSecrets });
    const sm = new SecretsManagerClient({});
    try {
      await sm.send(new CreateSecretCommand({ Name: secretId, SecretString: value }));
    } catch (err) {
      if ((err as Error).name !== "ResourceExistsException") throw err;
      await sm.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
    }
    return { secretId, apiKey: created.key, keyId: created.id, signingSecrets };
  }

  /**
   * Imports a function's handler module with the environment its stack would give it. The
   * module reads the environment once, at import, as it does at a Lambda cold start.
   */
  async load(
    spec: FunctionSpec,
    provisioned: Provisioned,
    extraEnv: Record<string, string> = {},
  ): Promise<LambdaHandler> {
    // The environment its stack writes, and the extra variables, hold for this cold start only
    // (the module reads them at import).
    const vars = {
      ...functionEnvironment(spec, {
        flxblUrl: this.flxbl.url,
        secretId: provisioned.secretId,
        tableName: this.tableName,
        stage: "test",
      }),
      ...extraEnv,
    };
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    for (const [k, v] of Object.entries(vars)) process.env[k] = v;
    const [file, exportName] = splitHandler(spec.handler);
    // A fresh module graph: a cold start, with its own secret cache and clients.
    vi.resetModules();
    let module: Record<string, LambdaHandler>;
    try {
      module = (await import(`${repoRoot}${file}.ts`)) as Record<string, LambdaHandler>;
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const handler = module[exportName];
    if (typeof handler !== "function") throw new Error(`${spec.handler} exports no function ${exportName}`);
    return handler;
  }

  /** Sends an HTTP request to a webhook function as API Gateway would, and returns its answer. */
  async post(
    handler: LambdaHandler,
    spec: FunctionSpec,
    request: {
      headers: Record<string, string>;
      body: string | Buffer;
      event?: (e: APIGatewayProxyEventV2) => void;
      /** The invocation's time limit, when not the manifest's (in-progress idempotency records last that long). */
      timeoutSeconds?: number;
    },
  ): Promise<WebhookAnswer> {
    if (spec.trigger.kind !== "http") throw new Error(`${spec.name} is not an HTTP function`);
    const event = httpApiEvent({
      method: spec.trigger.method,
      path: spec.trigger.path,
      headers: { "content-type": "application/json", ...request.headers },
      body: request.body,
    });
    request.event?.(event);
    const result = (await handler(
      event,
      lambdaContext({
        functionName: spec.name,
        timeoutSeconds: request.timeoutSeconds ?? spec.timeoutSeconds,
        memoryMb: spec.memoryMb,
      }),
    )) as APIGatewayProxyStructuredResultV2;
    return webhookAnswer(result);
  }

  async close(): Promise<void> {
    await Promise.all([this.flxbl.close(), this.secretsManager.close(), this.dynamodb.close()]);
  }
}

function splitHandler(handler: string): [string, string] {
  const dot = handler.lastIndexOf(".");
  return [handler.slice(0, dot), handler.slice(dot + 1)];
}
