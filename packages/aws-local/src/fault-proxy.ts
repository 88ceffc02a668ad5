import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * What the proxy does with a request:
 * - `pass`: forwards it to the target and relays the answer;
 * - `hang`: accepts it and never answers (a dependency that is up but stuck);
 * - `reset`: destroys the connection without an answer;
 * - `refuse`: stops listening, so new connections are refused (a dependency that is down).
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy("http://127.0.0.1:4010"); // in front of the emulator
 * await proxy.set("refuse"); // FLXBL is down
 * ```
 */
export type FaultMode = "pass" | "hang" | "reset" | "refuse";

/** A running fault proxy. */
export interface FaultProxy {
  /** Where clients connect (`http://127.0.0.1:<port>`); stays the same across modes. */
  readonly url: string;
  /** Requests received (answered or not), by mode they met. */
  readonly requests: Record<FaultMode, number>;
  /** Switches every later request (and drops the connections open now, as an outage would). */
  set(mode: FaultMode): Promise<void>;
  /** Passes the next `n` requests, then applies `mode` to the rest. */
  failAfter(n: number, mode: Exclude<FaultMode, "refuse">): Promise<void>;
  /** Holds each request matching `match` for `ms` before forwarding it (a slow write that lands late). */
  delay(match: (req: IncomingMessage) => boolean, ms: number): void;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of a local server (the Secrets Manager endpoint, dynalite, the
 * emulator) that injects the failures real dependencies have: refused and reset connections,
 * requests that hang, writes that land late. Point the SDK's endpoint variable (or `FLXBL_URL`)
 * at it; the code under test runs unchanged.
 *
 * Written for the outage tests: no npm package offers switchable refuse/hang/reset modes on a
 * stable port without Docker (toxiproxy is a Go binary).
 *
 * @example
 * ```ts
 * const sm = await startLocalSecretsManager();
 * const proxy = await startFaultProxy(sm.url);
 * process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = proxy.url;
 * await proxy.set("hang"); // every GetSecretValue now hangs
 * ```
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const requests: Record<FaultMode, number> = { pass: 0, hang: 0, reset: 0, refuse: 0 };
  const sockets = new Set<Socket>();
  let mode: FaultMode = "pass";
  let passesLeft = Number.POSITIVE_INFINITY;
  let afterPasses: FaultMode = "pass";
  const delays: Array<{ match: (req: IncomingMessage) => boolean; ms: number }> = [];
  let port = 0;

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => res.destroy());
    req.pipe(out);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    let current = mode;
    if (current === "pass" && passesLeft !== Number.POSITIVE_INFINITY) {
      if (passesLeft > 0) passesLeft--;
      else current = afterPasses;
    }
    requests[current]++;
    if (current === "hang") {
      req.resume();
      return;
    }
    if (current === "reset" || current === "refuse") {
      req.socket.destroy();
      return;
    }
    const wait = delays.find((d) => d.match(req))?.ms ?? 0;
    if (wait > 0) setTimeout(() => forward(req, res), wait);
    else forward(req, res);
  };

  let server: Server | undefined;
  const listen = async () => {
    const next = createServer(handle);
    next.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      next.once("error", reject);
      next.listen(port, "127.0.0.1", () => resolve());
    });
    port = (next.address() as AddressInfo).port;
    server = next;
  };
  const stopListening = () =>
    new Promise<void>((resolve) => {
      const current = server;
      server = undefined;
      if (!current) return resolve();
      current.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });

  await listen();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async set(next) {
      passesLeft = Number.POSITIVE_INFINITY;
      for (const socket of sockets) socket.destroy();
      if (next === "refuse") await stopListening();
      else if (!server) await listen();
      mode = next;
    },
    async failAfter(n, next) {
      if (!server) await listen();
      mode = "pass";
      passesLeft = n;
      afterPasses = next;
    },
    delay(match, ms) {
      delays.push({ match, ms });
    },
    close: stopListening,
  };
}
