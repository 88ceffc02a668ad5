import { type FSWatcher, watch } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { manifest } from "@flxbl-lambda/functions";
import { CliError, explainFailure, runCli } from "./cli-kit.js";
import { readLocalConfig } from "./config.js";
import { startRuntime } from "./runtime.js";

const usage = `usage: npm start [-- --reset]

Runs the whole app on this machine until Ctrl-C: the FLXBL emulator (or the FLXBL at FLXBL_URL),
a local DynamoDB and Secrets Manager, a key per function, every function in its own process, a
gateway for the webhook routes and a scheduler for the jobs. Settings: .env (see .env.example).

  --reset   start from a clean data folder (LOCAL_DATA_DIR, default .flxbl-local): new sample
            data, keys and secrets
  --help    this text`;

const manifestFile = fileURLToPath(new URL("../../functions/src/manifest.ts", import.meta.url));

/** `npm start`: the whole app on this machine, until Ctrl-C. */
async function main(args: string[]) {
  let reset: boolean;
  try {
    reset = parseArgs({ args, options: { reset: { type: "boolean", default: false } } }).values.reset;
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${usage}`, 2);
  }
  const config = readLocalConfig();
  const runtime = await startRuntime({ manifest, ...config, reset, recordFlxblCalls: true });
  const rows = Object.entries(runtime.info.functions).map(([name, fn]) => [
    name,
    fn.trigger,
    fn.scopes.join(" "),
    fn.url ?? `POST ${runtime.info.gatewayUrl}/_local/jobs/${name}`,
  ]);
  const header = ["function", "trigger", "scopes", "url"];
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  console.log(
    `\nflxbl-lambda is running offline (${config.flxbl ? `FLXBL at ${config.flxbl.url}` : "FLXBL emulator"})\n`,
  );
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  for (const p of runtime.provisioned) console.log(`  key for ${p.function}: ${p.action} (${p.reason})`);
  console.log(`\nFLXBL API: ${runtime.info.flxbl.url}`);
  console.log(`Details for scripts: ${config.dataDir}/runtime.json`);
  console.log(
    "Try: npm run webhook -- payments-webhook payment_intent.succeeded   |   npm run job -- expire-stale-orders",
  );
  console.log(`Console: ${runtime.info.consoleUrl} (functions, invocations, jobs, webhooks, keys, data)`);
  console.log(`Ready: gateway on ${runtime.info.gatewayUrl} (Ctrl-C to stop)\n`);

  // Functions, routes, schedules and keys come from the manifest as it was at start.
  let told = false;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(manifestFile, () => {
      if (told) return;
      told = true;
      console.log(
        "\nThe manifest (packages/functions/src/manifest.ts) changed: restart npm start (Ctrl-C, then npm start) to run it.\n",
      );
    });
    watcher.on("error", () => watcher?.close());
  } catch {
    // No file watching here (e.g. the inotify limit): the app runs on without the notice.
  }

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    watcher?.close();
    console.log("\nStopping...");
    runtime.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

runCli(usage, (args) =>
  main(args).catch((err: unknown) => {
    throw err instanceof CliError ? err : new CliError(`npm start failed: ${explainFailure(err)}`);
  }),
);
