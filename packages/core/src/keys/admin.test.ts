import { type Emulator, type EmulatorConfig, startEmulator } from "@flxbl-lambda/emulator";
import { afterEach, describe, expect, it } from "vitest";
import { appSchema } from "../../../emulator/src/test-helpers.js";
import { FlxblAdmin } from "./admin.js";

describe("FlxblAdmin.listKeys", () => {
  let flxbl: Emulator | undefined;
  afterEach(async () => {
    await flxbl?.close();
    flxbl = undefined;
  });

  /** An emulator holding `n` keys besides its admin key, answering key lists as `behaviour` says. */
  const withKeys = async (n: number, behaviour: EmulatorConfig["behaviour"]) => {
    flxbl = await startEmulator({ schema: appSchema, behaviour });
    const admin = new FlxblAdmin({ baseUrl: flxbl.url, adminKey: flxbl.adminKey });
    for (let i = 0; i < n; i++) await admin.createKey(`k${i}`, ["entity:Order:read"]);
    return admin;
  };

  it.each([
    ["pages capped below what was asked, with a total", { apiKeyListShape: "envelope", maxLimit: 50 }],
    ["pages capped below what was asked, with no total (bare arrays)", { apiKeyListShape: "array", maxLimit: 50 }],
    ["one bare array of every key", { apiKeyListShape: "array" }],
  ] as const)("finds every key when FLXBL answers %s", async (_, behaviour) => {
    const admin = await withKeys(120, behaviour);

    const names = (await admin.listKeys()).map((k) => k.name);

    expect(names).toHaveLength(120);
    expect(new Set(names)).toEqual(new Set(Array.from({ length: 120 }, (_, i) => `k${i}`)));
  });
});
