import type { LocalDynamoDB } from "@flxbl-lambda/aws-local";
import type { FunctionSpec } from "@flxbl-lambda/core";
import type { Emulator } from "@flxbl-lambda/emulator";
import type { Bundle } from "./build.js";
import { type Closers, type FunctionSecret, functionEnv } from "./infra.js";
import { lambdaNodeFlags, WorkerProcess } from "./worker-process.js";

/** A function the bench runs: its bundle and what its stack would give it. */
export interface BenchFunction {
  name: string;
  /** "ours" (the app's code) or a baseline. */
  kind: "ours" | "baseline";
  bundle: Bundle;
  scopes: readonly string[];
  memoryMb: number;
  timeoutSeconds: number;
  extraEnv?: Record<string, string>;
  /** The manifest entry, for the app's functions. */
  spec?: FunctionSpec;
}

/** What every figure shares: the built bundles, the worker script, the servers of the main run. */
export interface BenchContext {
  root: string;
  outDir: string;
  workerScript: string;
  functions: Map<string, BenchFunction>;
  emulator: Emulator;
  dynamodb: LocalDynamoDB;
  secrets: Map<string, FunctionSecret>;
  closers: Closers;
  log: (line: string) => void;
}

/** Starts a function's "container" against the given servers (the main ones by default). */
export function startWorker(
  ctx: BenchContext,
  name: string,
  servers: { flxblUrl?: string; dynamodbUrl?: string; secret?: FunctionSecret; timeoutSeconds?: number } = {},
): WorkerProcess {
  const fn = ctx.functions.get(name);
  const secret = servers.secret ?? ctx.secrets.get(name);
  if (!fn || !secret) throw new Error(`no bench function ${name}`);
  const env = functionEnv({
    name,
    memoryMb: fn.memoryMb,
    timeoutSeconds: servers.timeoutSeconds ?? fn.timeoutSeconds,
    flxblUrl: servers.flxblUrl ?? ctx.emulator.url,
    secret,
    dynamodbUrl: servers.dynamodbUrl ?? ctx.dynamodb.url,
    extra: fn.extraEnv,
  });
  // BENCH_CPU_PROF=1 writes a V8 CPU profile of every function process to .out/profiles/ (open it in
  // Chrome DevTools, or summarise it with `tsx bench/profile-summary.ts <file>`).
  const execArgv = process.env.BENCH_CPU_PROF
    ? ["--cpu-prof", `--cpu-prof-dir=${ctx.outDir}/profiles`, `--cpu-prof-name=${name}.${Date.now()}.cpuprofile`]
    : [];
  const worker = new WorkerProcess(name, ctx.workerScript, fn.bundle.file, env, [
    ...lambdaNodeFlags(fn.memoryMb),
    ...execArgv,
  ]);
  ctx.closers.add(`worker ${name}`, () => worker.stop());
  return worker;
}
