import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, Context, ScheduledEvent } from "aws-lambda";

/**
 * What a request to an HTTP API route carries.
 *
 * @example
 * ```ts
 * const request: HttpRequestInput = { method: "POST", path: "/webhooks/payments", headers: { "content-type": "application/json" }, body };
 * ```
 */
export interface HttpRequestInput {
  method: string;
  /** Raw path, e.g. `/webhooks/payments`. */
  path: string;
  /** The route key API Gateway matched, e.g. `POST /webhooks/payments`. @default `${method} ${path}` */
  routeKey?: string;
  rawQueryString?: string;
  headers?: Record<string, string | string[] | undefined>;
  body?: Buffer | string;
  sourceIp?: string;
  stage?: string;
}

const textType = /^(text\/|application\/(json|xml|x-www-form-urlencoded|[\w.+-]+\+json))/i;

/**
 * Builds the API Gateway HTTP API (payload 2.0) event AWS would pass the function: lower-cased
 * headers (repeated ones joined with commas), cookies split out, the query string parsed,
 * a text body as is and any other body base64-encoded, and a request context.
 *
 * @example
 * ```ts
 * const headers = { "stripe-signature": signStripePayload(body, secret) };
 * const event = httpApiEvent({ method: "POST", path: "/webhooks/payments", headers, body });
 * ```
 */
export function httpApiEvent(input: HttpRequestInput): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === "cookie") {
      cookies = (Array.isArray(value) ? value.join("; ") : value).split(/;\s*/).filter(Boolean);
      continue;
    }
    headers[lower] = Array.isArray(value) ? value.join(",") : value;
  }
  const raw = input.body === undefined ? undefined : Buffer.isBuffer(input.body) ? input.body : Buffer.from(input.body);
  const isText = textType.test(headers["content-type"] ?? "");
  const rawQueryString = input.rawQueryString ?? "";
  const queryStringParameters: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[k] = queryStringParameters[k] === undefined ? v : `${queryStringParameters[k]},${v}`;
  }
  const now = new Date();
  const method = input.method.toUpperCase();
  const routeKey = input.routeKey ?? `${method} ${input.path}`;
  return {
    version: "2.0",
    routeKey,
    rawPath: input.path,
    rawQueryString,
    cookies,
    headers,
    queryStringParameters: rawQueryString ? queryStringParameters : undefined,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: (headers.host ?? "localhost").split(".")[0] ?? "localhost",
      http: {
        method,
        path: input.path,
        protocol: "HTTP/1.1",
        sourceIp: input.sourceIp ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey,
      stage: input.stage ?? "$default",
      time: formatApiGatewayTime(now),
      timeEpoch: now.getTime(),
    },
    body: raw === undefined ? undefined : isText ? raw.toString("utf8") : raw.toString("base64"),
    isBase64Encoded: raw !== undefined && !isText,
  };
}

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** API Gateway's `requestContext.time`: `27/Nov/2026:13:24:44 +0000`. */
function formatApiGatewayTime(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/**
 * The EventBridge Scheduled Event a schedule rule delivers.
 *
 * @example
 * ```ts
 * await job(scheduledEvent("expire-stale-orders"), lambdaContext({ functionName: "expire-stale-orders", timeoutSeconds: 300 }));
 * ```
 */
export function scheduledEvent(ruleName: string, time = new Date()): ScheduledEvent {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "000000000000",
    time: time.toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: process.env.AWS_REGION ?? "us-east-1",
    resources: [`arn:aws:events:us-east-1:000000000000:rule/${ruleName}`],
    detail: {},
  };
}

/**
 * A Lambda context whose remaining time counts down from the function's timeout, as the
 * runtime's does.
 *
 * @example
 * ```ts
 * const context = lambdaContext({ functionName: "payments-webhook", timeoutSeconds: 10, memoryMb: 256 });
 * const result = await handler(httpApiEvent({ method: "POST", path: "/webhooks/payments", body }), context);
 * ```
 */
export function lambdaContext(options: { functionName: string; timeoutSeconds: number; memoryMb?: number }): Context {
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryMb ?? 256),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: `local/${randomUUID()}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
