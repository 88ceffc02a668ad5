import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

/** How `npm run keys` ended: its exit code and what it printed. */
export interface KeysRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment a key-tool test gives `npm run keys`: the caller's, less anything that could
 * reach a real AWS account or FLXBL (profiles, credentials, endpoints, `FLXBL_*`,
 * `LOCAL_DATA_DIR`), with bogus credentials, a region, no instance metadata lookups, and `extra`.
 */
export function isolatedEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env))
    if (!/^(AWS_|FLXBL_|LOCAL_DATA_DIR$)/.test(name)) env[name] = value;
  return {
    ...env,
    AWS_ACCESS_KEY_ID: "AKIAKEYSCLITESTBOGUS",
    AWS_SECRET_ACCESS_KEY: "not-a-real-secret-access-key",
    AWS_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    ...extra,
  };
}

/**
 * `npm run keys -- <args>` from the repository root, as an operator runs it (the script runs
 * `packages/local/src/keys-cli.ts`), with `input` piped to its standard input (closed empty when
 * none). Killed, with everything it started, after `timeoutMs`.
 *
 * @example
 * ```ts
 * const { code, stderr } = await runKeys(["status", "--stage", "prod"], isolatedEnv({ FLXBL_URL: "http://x" }));
 * ```
 */
export function runKeys(args: string[], env: NodeJS.ProcessEnv, input = "", timeoutMs = 25_000): Promise<KeysRun> {
  return runScript("keys", args, env, input, timeoutMs);
}

/**
 * `npm run <script> -- <args>` from the repository root, as a user runs it; see {@link runKeys}.
 *
 * @example
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 *
 * const dir = mkdtempSync(join(tmpdir(), "webhook-cli-"));
 * const { code, stdout } = await runScript("webhook", ["payments-webhook", "payment_intent.succeeded"], isolatedEnv({ LOCAL_DATA_DIR: dir }));
 * ```
 */
export function runScript(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input = "",
  timeoutMs = 25_000,
): Promise<KeysRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "--silent", script, "--", ...args], {
      cwd: repoRoot,
      env,
      stdio: ["pipe", "pipe", "pipe"],
      // Its own process group, so a timeout ends npm, its shell and the tool alike.
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), "SIGKILL");
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // The child may exit before reading its input (a refusal): a closed pipe is no failure here.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
}

/** A run's output, for an assertion's message: shown only when the assertion fails. */
export const printed = (run: KeysRun) => `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
