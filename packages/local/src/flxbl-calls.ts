import { subscribe } from "node:diagnostics_channel";

/** One call a function made to FLXBL, as the console shows it (no headers, no body: they may hold keys). */
export interface FlxblCall {
  method: string;
  /** The path under the API base, without its query string (`/dynamic/Order/node_1`). */
  path: string;
  /** FLXBL's status, or `failed` when no answer came (refused, reset, timed out, aborted). */
  status: number | "failed";
  durationMs: number;
  at: string;
}

/** What undici (Node's `fetch`) publishes about a request on its diagnostics channels. */
interface UndiciRequest {
  origin?: string;
  method?: string;
  path?: string;
}

/**
 * Watches, inside a function's process, the calls its `fetch` makes to FLXBL (`flxblUrl`), from
 * undici's diagnostics channels: nothing sits between the function and FLXBL, so what it sees
 * (statuses, refused connections, timeouts) is what it would see in Lambda. `report` gets each
 * call when its answer's headers arrive or it fails.
 *
 * @example
 * ```ts
 * watchFlxblCalls(process.env.FLXBL_URL ?? "", (call) => console.log(call.method, call.path, call.status));
 * ```
 */
export function watchFlxblCalls(flxblUrl: string, report: (call: FlxblCall) => void): void {
  let base: URL;
  try {
    base = new URL(flxblUrl);
  } catch {
    return;
  }
  const prefix = base.pathname.replace(/\/+$/, "");
  const open = new WeakMap<object, { method: string; path: string; started: number; at: string }>();
  const end = (request: object, status: number | "failed") => {
    const call = open.get(request);
    if (!call) return;
    open.delete(request);
    report({
      method: call.method,
      path: call.path,
      status,
      durationMs: Math.round(performance.now() - call.started),
      at: call.at,
    });
  };
  subscribe("undici:request:create", (message) => {
    const request = (message as { request: UndiciRequest }).request;
    if (request.origin === undefined || new URL(request.origin).origin !== base.origin) return;
    const [path = ""] = (request.path ?? "").split("?");
    if (!path.startsWith(`${prefix}/`) && path !== prefix) return;
    open.set(request, {
      method: request.method ?? "GET",
      path: path.slice(prefix.length) || "/",
      started: performance.now(),
      at: new Date().toISOString(),
    });
  });
  subscribe("undici:request:headers", (message) => {
    const { request, response } = message as { request: object; response: { statusCode: number } };
    end(request, response.statusCode);
  });
  subscribe("undici:request:error", (message) => end((message as { request: object }).request, "failed"));
}
