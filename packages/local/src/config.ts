import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";

/** The local runtime's settings, as `.env.example` documents them. */
export interface LocalConfig {
  port: number;
  dataDir: string;
  ports: { emulator: number; dynamodb: number; secretsManager: number };
  flxbl?: { url: string; adminKey: string };
  emulatorAdminKey?: string;
  /** Every `.env` value, passed on to functions whose manifest names it. */
  env: Record<string, string>;
}

function port(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got "${value}"`);
  return n;
}

/**
 * The data folder the local tools use: `LOCAL_DATA_DIR` from the environment or `.env`, else
 * `.flxbl-local` (an empty value means the default).
 */
export function localDataDir(envFile = ".env", source: NodeJS.ProcessEnv = process.env): string {
  const fromFile = existsSync(envFile) ? parseEnv(readFileSync(envFile, "utf8")) : {};
  const value = source.LOCAL_DATA_DIR ?? fromFile.LOCAL_DATA_DIR;
  return value?.trim() || ".flxbl-local";
}

/**
 * Reads the runtime's configuration from `.env` (if present) and the process environment, the
 * environment winning. Refuses half a real-FLXBL setup (a URL without an admin key).
 */
export function readLocalConfig(envFile = ".env", source: NodeJS.ProcessEnv = process.env): LocalConfig {
  const fromFile = existsSync(envFile) ? parseEnv(readFileSync(envFile, "utf8")) : {};
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...fromFile, ...source })) if (typeof v === "string") env[k] = v;
  const url = env.FLXBL_URL?.trim();
  const adminKey = env.FLXBL_ADMIN_KEY?.trim();
  if (url && !adminKey) throw new Error("FLXBL_URL is set but FLXBL_ADMIN_KEY is not: a real FLXBL needs both");
  return {
    port: port("PORT", env.PORT, 3000),
    dataDir: env.LOCAL_DATA_DIR?.trim() || ".flxbl-local",
    ports: {
      emulator: port("FLXBL_EMULATOR_PORT", env.FLXBL_EMULATOR_PORT, 0),
      dynamodb: port("LOCAL_DYNAMODB_PORT", env.LOCAL_DYNAMODB_PORT, 0),
      secretsManager: port("LOCAL_SECRETS_MANAGER_PORT", env.LOCAL_SECRETS_MANAGER_PORT, 0),
    },
    flxbl: url && adminKey ? { url, adminKey } : undefined,
    emulatorAdminKey: !url && adminKey ? adminKey : undefined,
    env,
  };
}
