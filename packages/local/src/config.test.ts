import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readLocalConfig } from "./config.js";

describe("readLocalConfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "flxbl-config-"));
  const noEnvFile = join(dir, "absent.env");
  const envFile = (text: string) => {
    const file = join(dir, `${Math.random().toString(36).slice(2)}.env`);
    writeFileSync(file, text);
    return file;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("defaults to port 3000, .flxbl-local, free ports for the local servers and the emulator", () => {
    const config = readLocalConfig(noEnvFile, {});

    expect(config).toMatchObject({
      port: 3000,
      dataDir: ".flxbl-local",
      ports: { emulator: 0, dynamodb: 0, secretsManager: 0 },
      flxbl: undefined,
      emulatorAdminKey: undefined,
    });
  });

  it("reads the ports and the data folder from the environment", () => {
    const config = readLocalConfig(noEnvFile, {
      PORT: "3100",
      LOCAL_DATA_DIR: "/tmp/somewhere",
      FLXBL_EMULATOR_PORT: "4010",
      LOCAL_DYNAMODB_PORT: "4011",
      LOCAL_SECRETS_MANAGER_PORT: "4012",
    });

    expect(config).toMatchObject({
      port: 3100,
      dataDir: "/tmp/somewhere",
      ports: { emulator: 4010, dynamodb: 4011, secretsManager: 4012 },
    });
  });

  it("falls back to the default for an empty value", () => {
    expect(readLocalConfig(noEnvFile, { PORT: "" }).port).toBe(3000);
  });

  it("reads .env, the process environment winning over it", () => {
    const file = envFile("PORT=3200\nPENDING_ORDER_MAX_AGE=PT1H\n");

    const config = readLocalConfig(file, { PORT: "3300" });

    expect(config.port).toBe(3300);
    expect(config.env.PENDING_ORDER_MAX_AGE).toBe("PT1H");
  });

  it("refuses FLXBL_URL without FLXBL_ADMIN_KEY", () => {
    expect(() => readLocalConfig(noEnvFile, { FLXBL_URL: "https://api.flxbl.dev/api/v1" })).toThrow(
      /FLXBL_URL.*FLXBL_ADMIN_KEY/,
    );
  });

  it("refuses FLXBL_URL whose admin key is only blanks", () => {
    expect(() => readLocalConfig(noEnvFile, { FLXBL_URL: "https://x.test/api/v1", FLXBL_ADMIN_KEY: "  " })).toThrow(
      /FLXBL_ADMIN_KEY/,
    );
  });

  it("points at a real FLXBL when FLXBL_URL and FLXBL_ADMIN_KEY are both set", () => {
    const config = readLocalConfig(noEnvFile, { FLXBL_URL: " https://x.test/api/v1 ", FLXBL_ADMIN_KEY: "admin-key" });

    expect(config.flxbl).toEqual({ url: "https://x.test/api/v1", adminKey: "admin-key" });
    expect(config.emulatorAdminKey).toBeUndefined();
  });

  it("uses FLXBL_ADMIN_KEY without FLXBL_URL as the emulator's admin key", () => {
    const config = readLocalConfig(noEnvFile, { FLXBL_ADMIN_KEY: "emulator-key" });

    expect(config.flxbl).toBeUndefined();
    expect(config.emulatorAdminKey).toBe("emulator-key");
  });

  it.each([
    ["PORT", "abc"],
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["PORT", "80.5"],
    ["FLXBL_EMULATOR_PORT", "x"],
    ["LOCAL_DYNAMODB_PORT", "65536"],
    ["LOCAL_SECRETS_MANAGER_PORT", "1e9"],
  ])("refuses %s=%s, naming the variable", (name, value) => {
    expect(() => readLocalConfig(noEnvFile, { [name]: value })).toThrow(
      `${name} must be a port number, got "${value}"`,
    );
  });
});
