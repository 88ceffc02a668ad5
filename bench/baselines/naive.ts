/**
 * Baseline "naive": no middleware, the key read from Secrets Manager on every invocation
 * (the anti-pattern: a Secrets Manager call per invocation), FLXBL called with plain `fetch`.
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

/** The event every figure-1 function takes. */
export interface GetOrderEvent {
  orderId: string;
}

/** What every figure-1 function answers. */
export interface GetOrderResult {
  id: string;
  status: string;
}

const baseUrl = process.env.FLXBL_URL ?? "";
const secretId = process.env.FLXBL_SECRET_ARN ?? "";
// One client per container, as anyone would write it; only the secret read is repeated.
const secretsManager = new SecretsManagerClient({});

export async function handler(event: GetOrderEvent): Promise<GetOrderResult> {
  const secret = await secretsManager.send(new GetSecretValueCommand({ SecretId: secretId }));
  const { apiKey } = JSON.parse(secret.SecretString ?? "{}") as { apiKey: string };
  const res = await fetch(`${baseUrl}/dynamic/Order/${encodeURIComponent(event.orderId)}`, {
    headers: { authorization: `Bearer ${apiKey}`, accept: "application/json" },
  });
  if (!res.ok) throw new Error(`GET /dynamic/Order/${event.orderId} answered ${res.status}`);
  const order = (await res.json()) as GetOrderResult;
  return { id: order.id, status: order.status };
}
