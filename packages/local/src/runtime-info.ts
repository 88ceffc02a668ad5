import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RuntimeInfo } from "./runtime.js";

/** Reads `runtime.json` of a running `npm start`, with a clear error when it is not running. */
export function readRuntimeInfo(dataDir = process.env.LOCAL_DATA_DIR || ".flxbl-local"): RuntimeInfo {
  const file = join(dataDir, "runtime.json");
  try {
    return JSON.parse(readFileSync(file, "utf8")) as RuntimeInfo;
  } catch {
    throw new Error(`No ${file}: start the app first with npm start (in another terminal)`);
  }
}
