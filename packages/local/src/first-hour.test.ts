import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RuntimeInfo } from "./runtime.js";
import { freePort } from "./test-fixtures/app-client.js";
import { isolatedEnv, printed, runScript } from "./test-fixtures/keys-cli.js";

/*
 * A newcomer's first hour, scripted: every command the README shows, run as a user runs it (npm,
 * from the repository root, a fresh data folder), and the mistakes people make on the way: a
 * tool run before npm start, a second npm start, a damaged data folder, a port in use, a FLXBL_URL
 * nobody listens on. Each answer must say what failed and what to do, with the right exit code.
 */

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const startTimeoutMs = 60_000;

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `npm start -- <args>` in its own process group; resolves once it printed `until` or exited. */
async function launch(env: NodeJS.ProcessEnv, args: string[] = [], until = "Ready: gateway on"): Promise<Started> {
  const child = spawn("npm", ["start", "--silent", "--", ...args], {
    cwd: repoRoot,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  for (const stream of [child.stdout, child.stderr])
    stream?.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
    });
  let ended = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      ended = true;
      resolve(code);
    }),
  );
  const deadline = Date.now() + startTimeoutMs;
  while (!ended && !output.includes(until)) {
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, output: () => output, exited };
}

async function stop(app: Started | undefined): Promise<void> {
  const pid = app?.child.pid;
  if (!app || pid === undefined || app.child.exitCode !== null) return;
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Gone.
    }
  }, 8_000);
  await app.exited;
  clearTimeout(timer);
}

describe("the first hour, as a newcomer runs it", () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let app: Started | undefined;
  const run = (script: string, args: string[] = [], extra: NodeJS.ProcessEnv = {}) =>
    runScript(script, args, { ...env, ...extra }, "", 40_000);

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "flxbl-first-hour-"));
    env = isolatedEnv({ LOCAL_DATA_DIR: dataDir, PORT: String(await freePort()) });
  });
  afterAll(async () => {
    await stop(app);
    rmSync(dataDir, { recursive: true, force: true });
  }, 20_000);

  it.each([
    ["job", /usage: npm run job -- <name>[\s\S]*jobs: expire-stale-orders, low-stock-alerts/],
    ["webhook", /usage:\n {2}npm run webhook -- payments-webhook/],
    ["keys", /usage: npm run keys -- <provision\|status\|rotate\|set-admin-key>/],
    ["emulator", /--db <file\|:memory:> {2}SQLite database \(default \.flxbl-emulator\/emulator\.db\)/],
  ])("npm run %s -- --help prints its usage and exits 0", async (script, usage) => {
    const result = await run(script, ["--help"]);
    expect(result.code, printed(result)).toBe(0);
    expect(result.stdout).toMatch(usage);
  });

  it("npm start -- --help prints its usage and exits 0 without starting anything", async () => {
    const started = await launch(env, ["--help"], "usage: npm start");
    expect(await started.exited, started.output()).toBe(0);
    expect(started.output()).toContain("--reset");
    expect(() => readFileSync(join(dataDir, "runtime.json"))).toThrow();
  });

  it.each([
    ["job", ["nonexistent"], 'No job named "nonexistent". Jobs: expire-stale-orders, low-stock-alerts'],
    ["webhook", ["nonexistent", "x"], 'No webhook named "nonexistent". Webhooks: payments-webhook, inventory-webhook'],
    [
      "keys",
      ["frobnicate", "--local"],
      'Unknown command "frobnicate". Commands: provision, status, rotate, set-admin-key',
    ],
    ["keys", ["rotate", "--local", "--function", "nope"], "--function must name a manifest function: payments-webhook"],
  ])("npm run %s -- %j names the valid choices and exits 2", async (script, args, message) => {
    const result = await run(script, args as string[]);
    expect(result.code, printed(result)).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it.each([
    ["job", ["expire-stale-orders"]],
    ["webhook", ["payments-webhook", "payment_intent.succeeded"]],
    ["keys", ["status", "--local"]],
  ])("npm run %s before npm start ever ran says to start it", async (script, args) => {
    const result = await run(script, args);
    expect(result.code, printed(result)).toBe(1);
    expect(result.stderr.trim()).toBe(
      `No ${join(dataDir, "runtime.json")}: start the app first with npm start (in another terminal)`,
    );
  });

  it("npm run keys against AWS with no credentials says what to set, not that it may pass on retry", async () => {
    const noCredentials: NodeJS.ProcessEnv = { ...env, FLXBL_URL: "https://api.flxbl.example/api/v1" };
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) delete noCredentials[name];
    const result = await runScript("keys", ["status", "--stage", "prod"], noCredentials, "", 40_000);
    expect(result.code, printed(result)).toBe(1);
    expect(result.stderr).toContain("No usable AWS credentials (");
    expect(result.stderr).toContain("Set AWS_PROFILE (after aws sso login or aws configure)");
    expect(result.stderr).not.toContain("may pass on retry");
  });

  it("a damaged runtime.json is reported as damaged, not missing", async () => {
    writeFileSync(join(dataDir, "runtime.json"), '{"gatewayUrl": "http://127.0.0.1:1", "functi');
    const result = await run("job", ["expire-stale-orders"]);
    expect(result.code, printed(result)).toBe(1);
    expect(result.stderr).toContain(`${join(dataDir, "runtime.json")} is damaged (`);
    expect(result.stderr).toContain("restart npm start");
    rmSync(join(dataDir, "runtime.json"));
  });

  it("npm run webhook against a real tenant sends nothing without an order id: no sample orders there", async () => {
    const closed = await freePort();
    const info: RuntimeInfo = {
      gatewayUrl: `http://127.0.0.1:${closed}`,
      flxbl: { url: `http://127.0.0.1:${closed}/api/v1`, adminKey: "not-a-key" },
      emulator: false,
      secretsManagerUrl: `http://127.0.0.1:${closed}`,
      functions: {
        "payments-webhook": {
          trigger: "POST /webhooks/payments",
          scopes: [],
          secretName: "flxbl-lambda/local/payments-webhook",
          signature: "stripe",
          signingSecrets: ["whsec_not-a-real-signing-secret-at-all"],
          url: `http://127.0.0.1:${closed}/webhooks/payments`,
        },
      },
    };
    writeFileSync(join(dataDir, "runtime.json"), JSON.stringify(info));
    const result = await run("webhook", ["payments-webhook", "charge.refunded"]);
    rmSync(join(dataDir, "runtime.json"));

    expect(result.code, printed(result)).toBe(2);
    expect(result.stderr).toContain(
      `npm start is using the FLXBL at http://127.0.0.1:${closed} (FLXBL_URL), not the emulator: give the id of an order`,
    );
  });

  it("npm start with FLXBL_URL on a closed port names FLXBL_URL and what to do", async () => {
    const closed = await freePort();
    const started = await launch({ ...env, FLXBL_URL: `http://127.0.0.1:${closed}/api/v1`, FLXBL_ADMIN_KEY: "k" });
    expect(await started.exited, started.output()).toBe(1);
    expect(started.output()).toContain(
      `Could not reach FLXBL at http://127.0.0.1:${closed}/api/v1 (FLXBL_URL) to provision keys: ECONNREFUSED. Check FLXBL_URL in .env, or leave it empty to use the emulator.`,
    );
    expect(started.output()).not.toContain("fetch failed");
  }, 90_000);

  it("npm start runs; the README's commands work again and again; a second npm start is refused", async () => {
    app = await launch(env);
    expect(app.output(), app.output()).toContain("Ready: gateway on");
    // The README's sample webhook, more often than there are seeded pending orders, with the suggested job between.
    for (const round of [1, 2, 3]) {
      const paid = await run("webhook", ["payments-webhook", "payment_intent.succeeded"]);
      expect(paid.code, printed(paid)).toBe(0);
      expect(paid.stdout, `round ${round}: ${printed(paid)}`).toMatch(/Created pending order \S+ \(SAMPLE-/);
      expect(paid.stdout).toMatch(/^200 .*"status":"applied".*"to":"paid"/m);
      if (round === 1) {
        const job = await run("job", ["expire-stale-orders"], {});
        expect(job.code, printed(job)).toBe(0);
      }
    }
    const refund = await run("webhook", ["payments-webhook", "charge.refunded"]);
    expect(refund.code, printed(refund)).toBe(0);
    expect(refund.stdout).toMatch(/^200 .*"to":"refunded"/m);

    const second = await launch(env);
    expect(await second.exited, second.output()).toBe(1);
    const info = JSON.parse(readFileSync(join(dataDir, "runtime.json"), "utf8")) as RuntimeInfo;
    expect(second.output()).toContain(`Another npm start is running on the data folder ${dataDir} (pid `);
    expect(second.output()).toContain(`gateway on ${info.gatewayUrl}). Stop it (Ctrl-C in its terminal)`);
    expect(second.output()).not.toMatch(/dynalite|LOCK|at \S+ \(/);

    // Another data folder on the same PORT: the port is named.
    const otherDir = mkdtempSync(join(tmpdir(), "flxbl-first-hour-other-"));
    try {
      const clash = await launch({ ...env, LOCAL_DATA_DIR: otherDir });
      expect(await clash.exited, clash.output()).toBe(1);
      expect(clash.output()).toContain(`Port ${env.PORT} is in use, so the gateway cannot listen on it`);
      expect(clash.output()).toContain("set PORT in .env");
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  }, 180_000);

  it("after npm start stops, the tools say it is not running; a damaged secrets file names itself and --reset", async () => {
    await stop(app);
    app = undefined;
    const job = await run("job", ["expire-stale-orders"]);
    expect(job.code, printed(job)).toBe(1);
    expect(job.stderr).toMatch(
      /^Could not reach the app npm start runs \(runtime.json is from an earlier run\) at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): start it with npm start/m,
    );
    expect(job.stderr).not.toContain("fetch failed");

    writeFileSync(join(dataDir, "secrets.json"), "{ not json");
    const damaged = await launch(env);
    expect(await damaged.exited, damaged.output()).toBe(1);
    expect(damaged.output()).toContain(`the local Secrets Manager could not open ${join(dataDir, "secrets.json")}`);
    expect(damaged.output()).toContain("npm start -- --reset");

    app = await launch(env, ["--reset"]);
    expect(app.output(), app.output()).toContain("Ready: gateway on");
    expect(app.output()).toContain(`Reset ${dataDir}`);

    // Saving the manifest (its contents as they are: only the time changes) is noticed.
    const manifestFile = join(repoRoot, "packages/functions/src/manifest.ts");
    const { atime, mtime } = statSync(manifestFile);
    utimesSync(manifestFile, atime, new Date());
    utimesSync(manifestFile, atime, mtime);
    const told = "The manifest (packages/functions/src/manifest.ts) changed: restart npm start";
    for (let i = 0; i < 100 && !app.output().includes(told); i++) await new Promise((r) => setTimeout(r, 50));
    expect(app.output()).toContain(told);
  }, 150_000);
});
