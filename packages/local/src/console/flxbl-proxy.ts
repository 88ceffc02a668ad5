import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";

/** One call a function made to FLXBL, as the console shows it (no headers, no body: they may hold keys). */
export interface FlxblCall {
  method: string;
  /** The path under the API base, without its query string (`/dynamic/Order/node_1`). */
  path: string;
  /** FLXBL's status, or `failed` when no answer came (refused, reset, aborted). */
  status: number | "failed";
  durationMs: number;
  at: string;
}

/** The recording proxy between the functions and FLXBL. */
export interface FlxblProxy {
  /** The `FLXBL_URL` to give function `fn`: its calls reach FLXBL through the proxy, named for it. */
  urlFor(fn: string): string;
  close(): Promise<void>;
}

/** Request headers that belong to one connection, not passed on. */
const hopByHop = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"]);

/**
 * A loopback proxy that passes every FLXBL call of the functions on unchanged (method, path,
 * headers, body, and the answer back as it came) and tells `onCall` what was called, by which
 * function, with what status and how long it took. The function is named by the first path
 * segment of its `FLXBL_URL` ({@link FlxblProxy.urlFor}). Only `npm start` uses it: the console
 * shows each invocation's FLXBL calls and retries from it.
 */
export async function startFlxblProxy(options: {
  upstream: string;
  onCall: (fn: string, call: FlxblCall) => void;
}): Promise<FlxblProxy> {
  const upstream = new URL(options.upstream);
  const base = upstream.pathname.replace(/\/+$/, "");
  const send = upstream.protocol === "https:" ? httpsRequest : httpRequest;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    const url = new URL(req.url ?? "/", "http://proxy");
    const [, fn = "", ...rest] = url.pathname.split("/");
    const path = `/${rest.join("/")}`;
    const record = (status: number | "failed") => {
      const under = path.startsWith(`${base}/`) ? path.slice(base.length) : path;
      options.onCall(decodeURIComponent(fn), {
        method: req.method ?? "GET",
        path: under,
        status,
        durationMs: Date.now() - started,
        at: new Date(started).toISOString(),
      });
    };
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined && !hopByHop.has(name)) headers[name] = value;
    const outgoing = send(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `${path}${url.search}`,
        headers: { ...headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on("end", () => record(answer.statusCode ?? 502));
        answer.on("error", () => res.destroy());
      },
    );
    outgoing.on("error", () => {
      record("failed");
      // The function sees what it would see without the proxy: a connection that failed.
      res.destroy();
    });
    req.pipe(outgoing);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    urlFor: (fn) => `${origin}/${encodeURIComponent(fn)}${base}`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
