import { manifest } from "@flxbl-lambda/functions";
import { readLocalConfig } from "./config.js";
import { startRuntime } from "./runtime.js";

/** `npm start`: the whole app on this machine, until Ctrl-C. */
async function main() {
  const config = readLocalConfig();
  const runtime = await startRuntime({ manifest, ...config });
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
  console.log(`Ready: gateway on ${runtime.info.gatewayUrl} (Ctrl-C to stop)\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log("\nStopping...");
    runtime.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(`npm start failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
