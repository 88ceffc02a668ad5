import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Invoke, WorkerReply } from "./protocol.js";

type Ready = Extract<WorkerReply, { type: "ready" }>;
type Invoked = Extract<WorkerReply, { type: "invoked" }>;

/** How long any one worker request may take before the bench gives up on it. */
const requestTimeoutMs = 200_000;

/**
 * The node flags Lambda's Node.js bootstrap derives from the memory size (`/var/runtime/bootstrap`):
 * young generation a tenth of it, the rest for the old generation, and `--expose-gc`. Without them
 * V8 sizes its heap for this machine's 24 GiB, and RSS says little about a 256 MB function.
 */
export function lambdaNodeFlags(memoryMb: number): string[] {
  const newSpace = Math.floor(memoryMb / 10);
  return [
    "--expose-gc",
    "--max-http-header-size=81920",
    `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
    `--max-old-space-size=${memoryMb - newSpace}`,
  ];
}

/**
 * A function bundle running in its own Node process (`drivers/worker.ts`): a Lambda container
 * stand-in whose memory is its own. Every request is bounded in time; {@link stop} always ends it.
 */
export class WorkerProcess {
  readonly #child: ChildProcess;
  #waiting: { resolve: (reply: WorkerReply) => void; reject: (err: Error) => void } | undefined;
  /** Replies that came before anyone asked (the "ready" of a fast start). */
  readonly #inbox: WorkerReply[] = [];
  #exited: Promise<void>;
  #exitError: Error | undefined;
  #stderr = "";
  /** Bytes the function wrote to stdout (its log lines). */
  stdoutBytes = 0;

  constructor(
    readonly name: string,
    workerScript: string,
    bundle: string,
    env: Record<string, string>,
    execArgv: readonly string[] = [],
  ) {
    this.#child = spawn(process.execPath, [...execArgv, workerScript], {
      env: { PATH: process.env.PATH ?? "", ...env, BENCH_BUNDLE: bundle },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    this.#child.stdout?.on("data", (chunk: Buffer) => {
      this.stdoutBytes += chunk.length;
    });
    this.#child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    this.#child.on("message", (reply: WorkerReply) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (!waiting) {
        this.#inbox.push(reply);
        return;
      }
      if (reply.type === "error") waiting.reject(new Error(`${name}: ${reply.message}`));
      else waiting.resolve(reply);
    });
    this.#exited = new Promise((resolve) => {
      this.#child.once("exit", (code, signal) => {
        this.#exitError = new Error(
          `${name} exited (code ${code}, signal ${signal})${this.#stderr ? `:\n${this.#stderr}` : ""}`,
        );
        this.#waiting?.reject(this.#exitError);
        this.#waiting = undefined;
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  #next(send?: Invoke): Promise<WorkerReply> {
    if (this.#waiting) return Promise.reject(new Error(`${this.name}: one request at a time`));
    const early = this.#inbox.shift();
    if (!early && this.#exitError) return Promise.reject(this.#exitError);
    if (early)
      return early.type === "error"
        ? Promise.reject(new Error(`${this.name}: ${early.message}`))
        : Promise.resolve(early);
    return new Promise<WorkerReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        reject(new Error(`${this.name}: no answer in ${requestTimeoutMs} ms`));
      }, requestTimeoutMs);
      this.#waiting = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      if (send) this.#child.send(send);
    });
  }

  /** Resolves once the bundle is imported (the init phase of a cold start). */
  async ready(): Promise<Ready> {
    const reply = await this.#next();
    if (reply.type !== "ready") throw new Error(`${this.name}: expected ready, got ${reply.type}`);
    return reply;
  }

  /** Invokes the handler once per event, in order, and returns the latencies. */
  async invoke(events: unknown[], options: { returnLast?: boolean; retainedHeap?: boolean } = {}): Promise<Invoked> {
    const reply = await this.#next({ type: "invoke", events, ...options });
    if (reply.type !== "invoked") throw new Error(`${this.name}: expected invoked, got ${reply.type}`);
    return reply;
  }

  /** The process's peak resident set so far (VmHWM), read from outside, in bytes. */
  peakRss(): number | undefined {
    return readPeakRss(this.#child.pid);
  }

  /** Ends the process (asks, then kills after a second). */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    try {
      this.#child.send({ type: "exit" });
    } catch {
      // The channel is already closed; the kill below ends it.
    }
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 1000);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** VmHWM (peak RSS) of a process, in bytes, or undefined when it is gone. */
export const readPeakRss = (pid: number | undefined) => readStatusBytes(pid, "VmHWM");

/** VmRSS (resident set now) of a process, in bytes, or undefined when it is gone. */
export const readRss = (pid: number | undefined) => readStatusBytes(pid, "VmRSS");

function readStatusBytes(pid: number | undefined, field: "VmHWM" | "VmRSS"): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used, in ms, from /proc (clock ticks of 10 ms). */
export function readCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}
