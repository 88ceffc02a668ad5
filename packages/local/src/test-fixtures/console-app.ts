import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manifest } from "@flxbl-lambda/functions";
import { type Runtime, startRuntime } from "../runtime.js";

/**
 * The app as `npm start` runs it for the console (FLXBL calls recorded), on a fresh data folder,
 * without schedules: a 2-s rotation grace period (so an old key's revocation is seen quickly) and
 * every pending order stale (so the expiry job has something to change). Its lines are kept, not
 * printed.
 */
export async function startConsoleApp(name: string) {
  const dataDir = mkdtempSync(join(tmpdir(), `flxbl-${name}-`));
  const lines: string[] = [];
  let runtime: Runtime;
  try {
    runtime = await startRuntime({
      manifest,
      port: 0,
      dataDir,
      schedules: false,
      recordFlxblCalls: true,
      env: { ROTATION_GRACE_SECONDS: "2", FLXBL_SECRET_TTL_SECONDS: "1", PENDING_ORDER_MAX_AGE: "PT0S" },
      log: (line) => lines.push(line),
      functionLog: (fn, line) => lines.push(`${fn} | ${line}`),
    });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    runtime,
    consoleUrl: runtime.info.consoleUrl as string,
    /** The last lines the runtime and its functions printed, for a failed assertion's message. */
    logTail: (n = 30) => `--- runtime log (last ${n} lines)\n${lines.slice(-n).join("\n")}`,
    async close() {
      await runtime.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
