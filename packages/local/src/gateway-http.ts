import type { IncomingMessage, ServerResponse } from "node:http";
import { isOwnLoopbackHost } from "@flxbl-lambda/aws-local";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";

/**
 * The gateway's HTTP edges: which requests may reach its own `/_local/*` routes, and how answers
 * are written (JSON, and a handler's result as API Gateway's HTTP API writes it).
 */

/** Whether a path is one of the gateway's own `/_local/*` routes (rather than a webhook route). */
export const isLocalPath = (pathname: string) => pathname === "/_local" || pathname.startsWith("/_local/");

/** The origins a page served by the gateway itself would send. */
const ownOrigins = (port: number) => [`http://127.0.0.1:${port}`, `http://localhost:${port}`];

/**
 * Why a `/_local/*` request is refused, or undefined when it may run. These routes are for this
 * machine's own tools (curl, `npm run job`), which send no `Origin` and no `Sec-Fetch-Site`:
 * - `Host` must name loopback on the gateway's port (`127.0.0.1`, `localhost` or `[::1]`, any
 *   case), so a page whose own host name was re-pointed at 127.0.0.1 (DNS rebinding) is refused;
 * - an `Origin`, when sent, must be the gateway's own, and `Sec-Fetch-Site`, when sent, must be
 *   `same-origin` or `none`: other sites' pages (and other local ports, which browsers call
 *   same-site) are refused.
 * Node's fetch sends `Sec-Fetch-Mode: cors` on every request, so that header decides nothing.
 */
export function localRequestRefusal(req: IncomingMessage, port: number): string | undefined {
  // A header's value, lower-cased; "" when it was sent more than once (which matches nothing).
  const header = (name: string) => {
    const values = req.headersDistinct[name];
    return values === undefined ? undefined : values.length === 1 ? (values[0] as string).toLowerCase() : "";
  };
  if (!isOwnLoopbackHost(req, port))
    return `/_local/ answers only requests for Host 127.0.0.1:${port}, localhost:${port} or [::1]:${port}`;
  const origin = header("origin");
  if (origin !== undefined && !ownOrigins(port).includes(origin))
    return "/_local/ answers no requests from other origins' pages";
  const site = header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none")
    return "/_local/ answers no cross-site browser requests";
  return undefined;
}

export function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json" }).end(text);
}

/** Maps a handler's result to HTTP as API Gateway's HTTP API (payload 2.0) does. */
export function writeResult(res: ServerResponse, result: unknown) {
  const structured =
    typeof result === "object" && result !== null && "statusCode" in result
      ? (result as APIGatewayProxyStructuredResultV2)
      : { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(result ?? null) };
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(structured.headers ?? {})) headers[k.toLowerCase()] = String(v);
  if (structured.cookies?.length) headers["set-cookie"] = structured.cookies;
  const body =
    structured.body === undefined
      ? undefined
      : structured.isBase64Encoded
        ? Buffer.from(structured.body, "base64")
        : Buffer.from(structured.body, "utf8");
  res.writeHead(structured.statusCode ?? 200, headers).end(body);
}
