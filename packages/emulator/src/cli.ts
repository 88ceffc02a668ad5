import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { RateLimit } from "./options.js";
import { type SeedData, startEmulator } from "./server.js";

const usage = `Usage: npm run emulator -- [options]

  --port <n>            port to listen on (default 4010; 0 = any free port)
  --host <addr>         interface (default 127.0.0.1)
  --schema <file>       FLXBL schema document (default packages/functions/flxbl/schema.json)
  --seed <file>         records/relationships loaded into an empty database
  --db <file|:memory:>  SQLite database (default .flxbl-emulator/emulator.db)
  --admin-key <key>     admin key (default: FLXBL_ADMIN_KEY, else a new one written to
                        --admin-key-file; never printed)
  --admin-key-file <f>  where a generated admin key is written (default .flxbl-emulator/emulator-admin-key)
  --rate-limit <r/b>    per-key limit: requests per second / burst, e.g. 20/40 (default off)
  --no-retry-after      answer 429 without a Retry-After header
  --list-shape <s>      envelope | array (default envelope)
  --help                this text`;

function parseRateLimit(value: string | undefined): RateLimit | null {
  if (value === undefined || value === "off") return null;
  const m = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(value);
  const limit = m ? { rps: Number(m[1]), burst: Number(m[2]) } : undefined;
  // 0 rps never refills (Retry-After: Infinity) and a 0 burst refuses everything.
  if (!limit || limit.rps <= 0 || limit.burst < 1)
    throw new Error(`--rate-limit wants <rps>/<burst>, both above 0, like 20/40 (got "${value}")`);
  return limit;
}

async function main(): Promise<void> {
  // The same .env as npm start, so FLXBL_EMULATOR_PORT and FLXBL_ADMIN_KEY apply here too.
  if (existsSync(".env")) process.loadEnvFile(".env");
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: process.env.FLXBL_EMULATOR_PORT || "4010" },
      host: { type: "string", default: "127.0.0.1" },
      schema: { type: "string", default: "packages/functions/flxbl/schema.json" },
      seed: { type: "string" },
      db: { type: "string", default: ".flxbl-emulator/emulator.db" },
      "admin-key": { type: "string", default: process.env.FLXBL_ADMIN_KEY || undefined },
      "admin-key-file": { type: "string", default: ".flxbl-emulator/emulator-admin-key" },
      "rate-limit": { type: "string" },
      "no-retry-after": { type: "boolean", default: false },
      "list-shape": { type: "string", default: "envelope" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const listShape = values["list-shape"];
  if (listShape !== "envelope" && listShape !== "array") throw new Error("--list-shape is envelope or array");
  if (values.db !== ":memory:") mkdirSync(dirname(resolve(values.db)), { recursive: true });
  const emulator = await startEmulator({
    schema: JSON.parse(readFileSync(values.schema, "utf8")),
    seed: values.seed ? (JSON.parse(readFileSync(values.seed, "utf8")) as SeedData) : undefined,
    port: Number(values.port),
    host: values.host,
    db: values.db,
    adminKey: values["admin-key"] || undefined,
    rateLimit: parseRateLimit(values["rate-limit"]),
    behaviour: { retryAfterHeader: !values["no-retry-after"], listShape },
  });
  let keyNote = "admin key: the one you passed";
  if (!values["admin-key"]) {
    const file = resolve(values["admin-key-file"]);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${emulator.adminKey}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    keyNote = `admin key: written to ${file}`;
  }
  console.log(`FLXBL emulator ready at ${emulator.url} (${keyNote}; database ${values.db})`);
  const stop = () => {
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(`flxbl emulator: ${err instanceof Error ? err.message : String(err)}`);
  console.error(usage);
  process.exit(2);
});
