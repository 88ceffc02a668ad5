import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "./cli-kit.js";
import { localDataDir } from "./config.js";
import type { RuntimeInfo } from "./runtime.js";

/**
 * Reads `runtime.json` of a running `npm start`: a clear error when it was never started (no file)
 * and another when the file is damaged (what it is and how to get a good one).
 */
export function readRuntimeInfo(dataDir = localDataDir()): RuntimeInfo {
  const file = join(dataDir, "runtime.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new CliError(`No ${file}: start the app first with npm start (in another terminal)`);
    throw new CliError(`Cannot read ${file} (${(err as Error).message}): check the data folder's permissions`);
  }
  let info: RuntimeInfo;
  try {
    info = JSON.parse(text) as RuntimeInfo;
  } catch {
    // Not the parser's message: it quotes the text around the fault, and the file holds keys.
    throw new CliError(
      `${file} is damaged (not valid JSON): npm start writes it at every start, so restart npm start (or delete the file)`,
    );
  }
  if (typeof info?.gatewayUrl !== "string" || typeof info.functions !== "object" || info.functions === null)
    throw new CliError(
      `${file} is not what npm start writes (no gatewayUrl or functions): restart npm start (or delete the file)`,
    );
  return info;
}

/** What `request` needs to name the running app when it cannot be reached. */
export const gateway = {
  what: "the app npm start runs (runtime.json is from an earlier run)",
  fix: "start it with npm start in another terminal, then try again",
};
