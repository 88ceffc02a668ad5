/**
 * Baseline "ecosystem": the same function written the usual way, `@middy/core` with Powertools
 * Parameters' cached `getSecret` (the same 5-minute TTL as ours) and plain `fetch`.
 *
 * Powertools Parameters rather than `@middy/secrets-manager`: the registry has no
 * `@middy/secrets-manager` for the `@middy/core` major in use (7.x; it stops at 6.4.5), while
 * Parameters 2.35.0 is the Powertools release the app already uses.
 */
import { getSecret } from "@aws-lambda-powertools/parameters/secrets";
import middy from "@middy/core";
import type { GetOrderEvent, GetOrderResult } from "./naive.js";

const baseUrl = process.env.FLXBL_URL ?? "";
const secretId = process.env.FLXBL_SECRET_ARN ?? "";

export const handler = middy<GetOrderEvent, GetOrderResult>().handler(async (event) => {
  const secret = await getSecret<{ apiKey: string }>(secretId, { maxAge: 300, transform: "json" });
  if (!secret) throw new Error(`secret ${secretId} has no value`);
  const res = await fetch(`${baseUrl}/dynamic/Order/${encodeURIComponent(event.orderId)}`, {
    headers: { authorization: `Bearer ${secret.apiKey}`, accept: "application/json" },
  });
  if (!res.ok) throw new Error(`GET /dynamic/Order/${event.orderId} answered ${res.status}`);
  const order = (await res.json()) as GetOrderResult;
  return { id: order.id, status: order.status };
});
