import type { IncomingMessage, ServerResponse } from "node:http";
import type { ConsoleContext } from "./context.js";
import { getRecord, listEntities, listRecords } from "./data.js";
import { listFunctions } from "./functions-api.js";
import { allow, ConsoleRequestError, known, readJson, securityHeaders, sendJson } from "./http.js";
import { Jobs } from "./jobs.js";
import type { ConsoleEvent, InvocationView } from "./recorder.js";
import { Rotations } from "./rotations.js";
import { StaticFiles } from "./static-files.js";
import { listWebhooks, replay, sendSample } from "./webhooks.js";

/** Where the console lives on the gateway. */
export const consolePath = "/_local/console/";
const apiPath = `${consolePath}api/`;

/** The API's routes, for the 404 that lists them. */
const endpoints = [
  "GET functions",
  "GET invocations?function=&status=",
  "GET invocations/<id>",
  "POST invocations/<id>/replay",
  "GET events (server-sent events)",
  "GET jobs",
  "POST jobs/<name>/run",
  "GET webhooks",
  "POST webhooks/<name>/send {type, args?}",
  "GET keys",
  "POST keys/<function>/rotate",
  "GET data",
  "GET data/<Entity>?offset=&limit=",
  "GET data/<Entity>/<id>",
];

/** The console: its page, its JSON API and its event stream. */
export interface LocalConsole {
  /** Answers a request under `/_local/console` (the gateway has already applied its `/_local/` checks). */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
  close(): void;
}

/**
 * The local console `npm start` serves at `/_local/console/`: a page (plain HTML, CSS and a
 * JavaScript module from `console/static/`) and the JSON API it reads, with live updates as
 * server-sent events. Every answer goes through the redaction; no key, signing secret or
 * signature header reaches it.
 */
export function createConsole(ctx: ConsoleContext): LocalConsole {
  const files = new StaticFiles();
  const jobs = new Jobs(ctx);
  const rotations = new Rotations(ctx);
  const streams = new Set<ServerResponse>();

  const api = async (req: IncomingMessage, res: ServerResponse, route: string[], url: URL) => {
    const [resource, name, action, ...extra] = route;
    const get = () => allow(req, "GET", "HEAD");
    const post = () => allow(req, "POST");
    const none = () => {
      if (extra.length > 0) throw notFound();
    };
    none();
    switch (resource) {
      case "functions":
        if (name) break;
        get();
        return sendJson(res, 200, { functions: await listFunctions(ctx) });
      case "invocations":
        if (!name) {
          get();
          return sendJson(res, 200, { invocations: filtered(ctx, url.searchParams) });
        }
        if (action === "replay") {
          post();
          return sendJson(res, 200, await replay(ctx, name));
        }
        if (action) break;
        get();
        return sendJson(res, 200, found(ctx.recorder.get(name), `No invocation ${name} (only the last ones are kept)`));
      case "events":
        if (name) break;
        get();
        return stream(req, res);
      case "jobs": {
        if (!name) {
          get();
          return sendJson(res, 200, { jobs: jobs.list() });
        }
        if (action !== "run") break;
        post();
        known(
          "job",
          name,
          jobs.list().map((j) => j.name),
        );
        return sendJson(res, 202, jobs.run(name));
      }
      case "webhooks":
        if (!name) {
          get();
          return sendJson(res, 200, { webhooks: listWebhooks(ctx) });
        }
        if (action !== "send") break;
        post();
        return sendJson(res, 200, await sendSample(ctx, name, await readJson(req)));
      case "keys":
        if (!name) {
          get();
          return sendJson(res, 200, { keys: await rotations.keys() });
        }
        if (action !== "rotate") break;
        post();
        return sendJson(res, 202, await rotations.start(name));
      case "data":
        get();
        if (!name) return sendJson(res, 200, await listEntities(ctx));
        if (!action) return sendJson(res, 200, await listRecords(ctx, name, url.searchParams));
        return sendJson(res, 200, await getRecord(ctx, name, action));
    }
    throw notFound();
  };

  const stream = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      ...securityHeaders,
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
    });
    res.write("retry: 2000\n\n");
    const send = (event: ConsoleEvent) => res.write(`event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
    const unsubscribe = ctx.recorder.subscribe(send);
    // A comment now and then, so a proxy or the browser does not take a quiet stream for a dead one.
    const beat = setInterval(() => res.write(": still here\n\n"), 15_000);
    streams.add(res);
    req.on("close", () => {
      clearInterval(beat);
      unsubscribe();
      streams.delete(res);
    });
  };

  return {
    async handle(req, res, url) {
      const path = url.pathname;
      if (path === consolePath.slice(0, -1)) {
        res.writeHead(308, { ...securityHeaders, location: consolePath }).end();
        return;
      }
      try {
        if (path.startsWith(apiPath)) {
          const route = path.slice(apiPath.length).split("/").map(decodeURIComponent);
          return await api(req, res, route, url);
        }
        allow(req, "GET", "HEAD");
        const name = path.slice(consolePath.length);
        if (!files.serve(res, name, req.method === "HEAD"))
          throw new ConsoleRequestError(404, `No console file ${name}`);
      } catch (err) {
        if (res.headersSent) return;
        if (err instanceof URIError) return sendJson(res, 400, { message: "The path is not valid percent-encoding" });
        if (!(err instanceof ConsoleRequestError)) throw err;
        sendJson(res, err.status, { message: err.message }, err.allow ? { allow: err.allow.join(", ") } : {});
      }
    },
    close() {
      jobs.close();
      rotations.close();
      for (const res of streams) res.end();
    },
  };
}

const notFound = () =>
  new ConsoleRequestError(404, `No such console API. Endpoints under ${apiPath}: ${endpoints.join("; ")}`);

const found = <T>(value: T | undefined, message: string): T => {
  if (value === undefined) throw new ConsoleRequestError(404, message);
  return value;
};

/** The invocations `function` and `status` (`ok`, `error`, `running` or an HTTP status) select, newest first. */
function filtered(ctx: ConsoleContext, params: URLSearchParams): InvocationView[] {
  const fn = params.get("function");
  const status = params.get("status");
  const views = ctx.recorder.list();
  if (fn) known("function", fn, [...new Set([...ctx.manifest.map((s) => s.name), ...views.map((v) => v.function)])]);
  if (status && !/^(ok|error|running|[1-5]\d\d)$/.test(status))
    throw new ConsoleRequestError(
      400,
      `status must be ok, error, running or an HTTP status such as 200 (not "${status}")`,
    );
  return views.filter((v) => (!fn || v.function === fn) && (!status || statusMatches(v.status, status)));
}

function statusMatches(status: InvocationView["status"], wanted: string): boolean {
  if (wanted === "running") return status === "running";
  if (wanted === "ok") return status === "ok" || (typeof status === "number" && status < 400);
  if (wanted === "error") return status === "error" || (typeof status === "number" && status >= 400);
  return String(status) === wanted;
}
