import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * What every console answer carries: a strict Content-Security-Policy (only this origin's own
 * files; no inline script or style, no framing), no sniffing, no referrer, no caching.
 */
export const securityHeaders = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
} as const;

/**
 * A request the console refuses, with the status and a message for the page: a 4xx names what
 * was wrong and what is valid (the known names, the allowed methods).
 */
export class ConsoleRequestError extends Error {
  override name = "ConsoleRequestError";
  constructor(
    readonly status: number,
    message: string,
    readonly allow?: readonly string[],
  ) {
    super(message);
  }
}

/** Answers JSON with the security headers. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { ...securityHeaders, "content-type": "application/json; charset=utf-8", ...headers });
  res.end(JSON.stringify(body));
}

/** Throws 405 naming the allowed methods unless the request's method is one of them. */
export function allow(req: IncomingMessage, ...methods: string[]): void {
  if (!methods.includes(req.method ?? "GET"))
    throw new ConsoleRequestError(405, `${req.method} is not allowed here; use ${methods.join(" or ")}`, methods);
}

/** The request's JSON object body (at most 64 KiB); 415 when it is not JSON, 400 when it does not parse. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers["content-type"] ?? "";
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 65_536) throw new ConsoleRequestError(413, "The body is over 64 KiB");
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  if (!/^application\/json\b/i.test(type)) throw new ConsoleRequestError(415, "Send the body as application/json");
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new ConsoleRequestError(400, "The body must be a JSON object");
    return parsed as Record<string, unknown>;
  } catch (err) {
    if (err instanceof ConsoleRequestError) throw err;
    throw new ConsoleRequestError(400, "The body is not valid JSON");
  }
}

/** Throws 404 naming the valid names unless `name` is one of them. */
export function known(what: string, name: string, names: readonly string[], plural = `${what}s`): void {
  if (!names.includes(name))
    throw new ConsoleRequestError(
      404,
      `No ${what} named "${name}". ${plural[0]?.toUpperCase()}${plural.slice(1)}: ${names.join(", ")}`,
    );
}
