import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FlxblCall, watchFlxblCalls } from "./flxbl-calls.js";

describe("watchFlxblCalls: a function's FLXBL calls seen from inside its process", () => {
  const calls: FlxblCall[] = [];
  const server = createServer((req, res) => {
    res.writeHead(req.url?.includes("busy") ? 429 : 200, { "content-type": "application/json" });
    res.end("{}");
  });
  let base = "";
  let closedPort = 0;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
    // A port nothing listens on: the connection is refused, as when FLXBL is down.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    watchFlxblCalls(base, (call) => calls.push(call));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("reports each call under the API base with its status, path without the query, and duration", async () => {
    calls.length = 0;
    await (await fetch(`${base}/dynamic/Order/node_1?fields=id`)).text();
    await (await fetch(`${base}/dynamic/Order/busy`, { method: "PATCH", body: "{}" })).text();

    expect(calls.map(({ method, path, status }) => ({ method, path, status }))).toEqual([
      { method: "GET", path: "/dynamic/Order/node_1", status: 200 },
      { method: "PATCH", path: "/dynamic/Order/busy", status: 429 },
    ]);
    for (const call of calls) expect(call.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("leaves out calls to anything else: another path on the same server, another origin", async () => {
    calls.length = 0;
    await (await fetch(base.replace("/api/v1", "/health"))).text();
    await fetch(`http://127.0.0.1:${closedPort}/api/v1/dynamic/Order`).catch(() => undefined);

    expect(calls).toEqual([]);
  });

  it("reports a call that got no answer as failed, while the caller sees the refused connection itself", async () => {
    calls.length = 0;
    const refused = `http://127.0.0.1:${closedPort}/api/v1`;
    const seen: FlxblCall[] = [];
    watchFlxblCalls(refused, (call) => seen.push(call));

    const error = await fetch(`${refused}/dynamic/Order`).catch((err: unknown) => err);

    expect(((error as Error).cause as { code?: string }).code).toBe("ECONNREFUSED");
    expect(seen.map(({ method, path, status }) => ({ method, path, status }))).toEqual([
      { method: "GET", path: "/dynamic/Order", status: "failed" },
    ]);
  });
});
