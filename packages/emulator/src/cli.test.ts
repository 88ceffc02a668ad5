import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const readyTimeoutMs = 10_000;
const exitTimeoutMs = 5_000;

const children = new Set<ChildProcess>();
const dirs: string[] = [];

afterAll(async () => {
  // Only reached with a child still running when a test failed midway. The whole process group
  // goes: killing tsx alone would orphan the node process it runs the CLI in.
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Cli {
  child: ChildProcess;
  output: { stdout: string; stderr: string };
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "flxbl-cli-"));
  dirs.push(dir);
  return dir;
}

/** Runs `npm run emulator -- ...args` the way the script does: tsx on the CLI from the repo root. */
function runCli(args: string[]): Cli {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --disable-warning=ExperimentalWarning`.trim(),
  };
  // The CLI reads these; the test must not depend on the caller's shell.
  delete env.FLXBL_ADMIN_KEY;
  delete env.FLXBL_EMULATOR_PORT;
  const child = spawn(process.execPath, ["node_modules/.bin/tsx", "packages/emulator/src/cli.ts", ...args], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so a hung CLI can be killed with everything it started.
    detached: true,
  });
  children.add(child);
  const output = { stdout: "", stderr: "" };
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    output.stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    output.stderr += chunk;
  });
  return { child, output };
}

/** Resolves with the exit code and signal, or rejects after `timeoutMs` so a hung child fails the test. */
function exited(cli: Cli, timeoutMs = exitTimeoutMs): Promise<{ code: number | null; signal: string | null }> {
  const { child } = cli;
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the CLI did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Resolves with the API URL from the "ready at <url>" line, or rejects on exit or after the timeout. */
function ready(cli: Cli): Promise<string> {
  return new Promise((resolve, reject) => {
    const { child, output } = cli;
    const done = (fn: () => void) => {
      clearTimeout(timer);
      child.stdout?.off("data", check);
      child.off("exit", onExit);
      fn();
    };
    const check = () => {
      const m = /ready at (http:\/\/\S+)/.exec(output.stdout);
      if (m?.[1]) {
        const url = m[1];
        done(() => resolve(url));
      }
    };
    const onExit = (code: number | null) =>
      done(() => reject(new Error(`the CLI exited with ${code} before it was ready: ${output.stderr}`)));
    const timer = setTimeout(
      () => done(() => reject(new Error(`the CLI was not ready within ${readyTimeoutMs} ms`))),
      readyTimeoutMs,
    );
    child.stdout?.on("data", check);
    child.once("exit", onExit);
    check();
  });
}

async function stop(cli: Cli) {
  cli.child.kill("SIGTERM");
  return exited(cli);
}

/** A CLI on a database and key file in `dir`, with `extra` arguments; resolves once it is ready. */
async function startCli(dir: string, extra: string[] = []) {
  const keyFile = join(dir, "admin-key");
  const cli = runCli(["--port", "0", "--db", join(dir, "emulator.db"), "--admin-key-file", keyFile, ...extra]);
  const url = await ready(cli);
  const key = (await readFile(keyFile, "utf8")).trim();
  return { cli, url, key, keyFile };
}

function get(url: string, key: string | undefined) {
  return fetch(url, { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
}

describe("a running emulator CLI", () => {
  let run: Awaited<ReturnType<typeof startCli>>;
  beforeAll(async () => {
    run = await startCli(await tempDir());
  });
  afterAll(async () => {
    if (run && run.cli.child.exitCode === null) await stop(run.cli);
  });

  it("prints a ready line with the API URL", () => {
    expect(run.cli.output.stdout).toMatch(/FLXBL emulator ready at http:\/\/127\.0\.0\.1:\d+\/api\/v1 /);
  });

  it("prints the admin key nowhere", () => {
    expect(run.cli.output.stdout.includes(run.key)).toBe(false);
    expect(run.cli.output.stderr.includes(run.key)).toBe(false);
  });

  it("writes a generated admin key to --admin-key-file, readable by its owner only", async () => {
    const { mode } = await stat(run.keyFile);

    expect(/^flxbl_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{16,}$/.test(run.key)).toBe(true);
    expect(mode & 0o777).toBe(0o600);
  });

  it("accepts the admin key from the key file", async () => {
    const res = await get(`${run.url}/dynamic/Order`, run.key);

    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ data: [], pagination: { total: 0 } });
  });

  it("refuses a request without a key", async () => {
    const res = await get(`${run.url}/dynamic/Order`, undefined);

    expect(res.status).toBe(401);
  });

  // Last in this block (tests in a file run in order): it ends the CLI the others use.
  it("exits with code 0 on SIGTERM", async () => {
    const result = await stop(run.cli);

    expect(result).toEqual({ code: 0, signal: null });
  });
});

describe("restarting the emulator CLI", () => {
  it("keeps records on the same --db after a restart", async () => {
    const dir = await tempDir();
    const first = await startCli(dir);
    const created = await fetch(`${first.url}/dynamic/Product`, {
      method: "POST",
      headers: { authorization: `Bearer ${first.key}`, "content-type": "application/json" },
      body: JSON.stringify({ sku: "CLI-1", name: "Kept", price: 1, stock: 1, lowStockThreshold: 0, active: true }),
    });
    const record = (await created.json()) as { id: string };
    expect((await stop(first.cli)).code).toBe(0);

    const second = await startCli(dir);

    const res = await get(`${second.url}/dynamic/Product/${record.id}`, second.key);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(record);
    await stop(second.cli);
  });
});

describe("emulator CLI options", () => {
  it("answers 429 to the second request with --rate-limit 1/1", async () => {
    const { cli, url, key } = await startCli(await tempDir(), ["--rate-limit", "1/1"]);

    const first = await get(`${url}/dynamic/Order`, key);
    const second = await get(`${url}/dynamic/Order`, key);

    expect([first.status, second.status]).toEqual([200, 429]);
    expect(second.headers.get("retry-after")).toBe("1");
    await stop(cli);
  });

  it.concurrent.each(["fast", "20/", "0/5", "5/0"])(
    "exits with code 2 and says why for --rate-limit %s",
    async (value) => {
      const dir = await tempDir();
      const cli = runCli([
        ...["--port", "0", "--db", join(dir, "emulator.db"), "--admin-key-file", join(dir, "admin-key")],
        ...["--rate-limit", value],
      ]);

      const result = await exited(cli, readyTimeoutMs);

      expect(result.code).toBe(2);
      expect(cli.output.stderr).toContain("--rate-limit");
      expect(cli.output.stdout).not.toContain("ready at");
    },
  );
});
