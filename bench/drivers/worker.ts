/**
 * One function "container" for the bench: a fresh Node process that imports one bundle (as
 * esbuild built it for the stack) and invokes its handler when the parent asks, over IPC.
 * Bundled itself into `.out/worker.mjs` and run with plain `node`, so no TypeScript loader sits
 * in the measured process.
 *
 * Timing is taken here, around the handler call only: figure 1's latencies carry no IPC, and
 * figure 3's cold start is "import the bundle, then serve the first invocation".
 */
import { readFileSync } from "node:fs";
import { lambdaContext } from "../../packages/core/src/testing/lambda-events.js";
import type { Invoke, WorkerReply } from "../lib/protocol.js";

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const bundle = process.env.BENCH_BUNDLE;
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? "bench";
const timeoutSeconds = Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT ?? "30");
const memoryMb = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? "256");

const send = (reply: WorkerReply) => process.send?.(reply);

/** Resident set now and its peak over the process's life (VmHWM), in bytes; CPU used so far, in ms. */
function memory(): { rss: number; peakRss: number; cpuMs: number } {
  const rss = process.memoryUsage().rss;
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  const cpu = process.cpuUsage();
  return { rss, peakRss: kb === undefined ? rss : Number(kb) * 1024, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** A result is a failure when it throws, or is an HTTP answer outside 2xx. */
function failureOf(result: unknown): string | undefined {
  if (typeof result === "object" && result !== null && "statusCode" in result) {
    const status = Number((result as { statusCode: unknown }).statusCode);
    if (status < 200 || status >= 300) return `statusCode ${status}: ${String((result as { body?: unknown }).body)}`;
  }
  return undefined;
}

async function invokeAll(handler: Handler, message: Invoke): Promise<WorkerReply> {
  const micros: number[] = [];
  const failures: string[] = [];
  let failed = 0;
  let last: unknown;
  for (const event of message.events) {
    const context = lambdaContext({ functionName, timeoutSeconds, memoryMb });
    const started = performance.now();
    let failure: string | undefined;
    try {
      last = await handler(event, context);
      failure = failureOf(last);
    } catch (err) {
      failure = `${(err as Error)?.name}: ${(err as Error)?.message}`;
    }
    micros.push((performance.now() - started) * 1000);
    if (failure !== undefined) {
      failed++;
      if (failures.length < 3) failures.push(failure);
    }
  }
  let retainedHeap: number | undefined;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (message.retainedHeap && gc) {
    gc();
    retainedHeap = process.memoryUsage().heapUsed;
  }
  return {
    type: "invoked",
    retainedHeap,
    micros,
    failed,
    failures,
    last: message.returnLast ? last : undefined,
    sinceStartMs: performance.now(),
    ...memory(),
  };
}

async function main() {
  if (!bundle) throw new Error("BENCH_BUNDLE is not set");
  // performance.now() counts from this process's start: node's own boot is in `sinceStartMs`.
  const bootMs = performance.now();
  const started = performance.now();
  const module = (await import(bundle)) as Record<string, unknown>;
  const importMs = performance.now() - started;
  const handler = module.handler;
  if (typeof handler !== "function") throw new Error(`${bundle} exports no handler`);
  // The bench went away (ended, or killed by its watchdog): so does this "container".
  process.on("disconnect", () => process.exit(0));
  process.on("message", (message: Invoke | { type: "exit" }) => {
    if (message.type === "exit") process.exit(0);
    invokeAll(handler as Handler, message).then(send, (err: unknown) =>
      send({ type: "error", message: String((err as Error)?.stack ?? err) }),
    );
  });
  send({ type: "ready", bootMs, importMs, ...memory() });
}

main().catch((err: unknown) => {
  send({ type: "error", message: String((err as Error)?.stack ?? err) });
  process.exitCode = 1;
  process.disconnect?.();
});
