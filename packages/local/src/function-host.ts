import { type ChildProcess, fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { FunctionSpec } from "@flxbl-lambda/core";
import type { FlxblCall } from "./flxbl-calls.js";

/** How an invocation ended. */
export type InvokeOutcome =
  | { kind: "result"; result: unknown; durationMs: number; requestId: string }
  | { kind: "error"; error: { name: string; message: string }; durationMs: number; requestId: string };

const workerFile = fileURLToPath(new URL("./function-worker.ts", import.meta.url));
const tsxLoader = import.meta.resolve("tsx");

/** What a host needs of a function: a manifest entry, or the rotation function. */
export type HostedFunction = Pick<FunctionSpec, "name" | "handler" | "timeoutSeconds" | "memoryMb">;

/**
 * One manifest function in its own Node process (its "container"), started on first use with
 * the environment its stack would give it. A run past the function's timeout is answered as
 * Lambda does ("Task timed out") and the process is replaced.
 */
export class FunctionHost<S extends HostedFunction = FunctionSpec> {
  #child: ChildProcess | undefined;
  #ready: Promise<ChildProcess> | undefined;
  #next = 0;
  readonly #pending = new Map<number, (outcome: InvokeOutcome) => void>();
  readonly #started = new Map<number, { at: number; requestId: string; child: ChildProcess }>();

  constructor(
    readonly spec: S,
    private readonly options: {
      root: string;
      env: Record<string, string>;
      /** Each line the function prints. */
      onOutput: (line: string, stream: "stdout" | "stderr") => void;
      /**
       * Each FLXBL call the function's `fetch` makes, watched inside its process (undici's
       * diagnostics channels; nothing between it and FLXBL), with the invocation it belongs to
       * when only one was running. @default not watched
       */
      onFlxblCall?: (requestId: string | undefined, call: FlxblCall) => void;
    },
  ) {}

  /** Starts the process now (cold start), so configuration errors show at start-up. */
  start(): Promise<ChildProcess> {
    if (!this.#ready) this.#ready = this.#spawn();
    return this.#ready;
  }

  #spawn(): Promise<ChildProcess> {
    const dot = this.spec.handler.lastIndexOf(".");
    const file = `${this.options.root}/${this.spec.handler.slice(0, dot)}.ts`;
    const child = fork(workerFile, [], {
      cwd: this.options.root,
      execArgv: ["--import", tsxLoader, "--disable-warning=ExperimentalWarning"],
      env: {
        PATH: process.env.PATH ?? "",
        ...this.options.env,
        LOCAL_HANDLER_FILE: file,
        LOCAL_HANDLER_EXPORT: this.spec.handler.slice(dot + 1),
        AWS_LAMBDA_FUNCTION_NAME: this.spec.name,
        AWS_LAMBDA_FUNCTION_TIMEOUT: String(this.spec.timeoutSeconds),
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.spec.memoryMb ?? 256),
        ...(this.options.onFlxblCall ? { LOCAL_RECORD_FLXBL_CALLS: "1" } : {}),
      },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    this.#child = child;
    for (const stream of ["stdout", "stderr"] as const) {
      let buffered = "";
      child[stream]?.setEncoding("utf8").on("data", (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) if (line.trim()) this.options.onOutput(line, stream);
      });
    }
    return new Promise((resolve, reject) => {
      child.on(
        "message",
        (message: {
          type: string;
          id?: number;
          result?: unknown;
          error?: { name: string; message: string };
          requestId?: string;
          call?: FlxblCall;
        }) => {
          if (message.type === "flxbl-call") {
            if (message.call) this.options.onFlxblCall?.(message.requestId, message.call);
          } else if (message.type === "ready") resolve(child);
          else if (message.type === "init-error")
            reject(new Error(`${this.spec.name} failed to start: ${message.error?.message ?? "unknown error"}`));
          else if (message.id !== undefined) this.#settle(message.id, message);
        },
      );
      child.on("exit", (code, signal) => {
        if (this.#child === child) {
          this.#child = undefined;
          this.#ready = undefined;
        }
        reject(new Error(`${this.spec.name} exited during start-up (code ${code}, signal ${signal})`));
        // Only this process's invocations: a replacement may already be serving new ones.
        for (const [id, started] of [...this.#started]) {
          if (started.child !== child) continue;
          this.#settle(id, {
            type: "error",
            error: { name: "Runtime.ExitError", message: `process exited (code ${code})` },
          });
        }
      });
    });
  }

  #settle(id: number, message: { type: string; result?: unknown; error?: { name: string; message: string } }) {
    const done = this.#pending.get(id);
    const started = this.#started.get(id);
    if (!done || !started) return;
    this.#pending.delete(id);
    this.#started.delete(id);
    const durationMs = Date.now() - started.at;
    done(
      message.type === "result"
        ? { kind: "result", result: message.result, durationMs, requestId: started.requestId }
        : {
            kind: "error",
            error: message.error ?? { name: "Error", message: "unknown" },
            durationMs,
            requestId: started.requestId,
          },
    );
  }

  /** Invokes the function with an event, as Lambda would; never rejects. */
  async invoke(event: unknown, requestId: string = randomUUID()): Promise<InvokeOutcome> {
    const at = Date.now();
    let child: ChildProcess;
    try {
      child = await this.start();
    } catch (err) {
      return {
        kind: "error",
        error: { name: "Runtime.InitError", message: (err as Error).message },
        durationMs: 0,
        requestId,
      };
    }
    const id = this.#next++;
    return new Promise<InvokeOutcome>((resolve) => {
      this.#pending.set(id, resolve);
      this.#started.set(id, { at, requestId, child });
      const timer = setTimeout(
        () => {
          this.#settle(id, {
            type: "error",
            error: { name: "Sandbox.Timedout", message: `Task timed out after ${this.spec.timeoutSeconds}.00 seconds` },
          });
          // Lambda freezes and discards a timed-out container; so does this. Forget it now, not on
          // its exit event: an invocation arriving before that event must get a new process.
          if (this.#child === child) {
            this.#child = undefined;
            this.#ready = undefined;
          }
          child.kill("SIGKILL");
        },
        this.spec.timeoutSeconds * 1000 + 100,
      );
      this.#pending.set(id, (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
      child.send({ type: "invoke", id, requestId, event });
    });
  }

  /** Stops the process. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 2000).unref();
    });
  }

  /** The process id of the running "container", if any (for memory figures). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }
}
