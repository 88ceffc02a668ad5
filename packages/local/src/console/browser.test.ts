import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ChromiumMissingError, chromiumPath } from "./browser.js";

describe("chromiumPath", () => {
  const dir = mkdtempSync(join(tmpdir(), "flxbl-chromium-path-"));
  const fake = join(dir, "chromium");
  writeFileSync(fake, "#!/bin/sh\n");
  chmodSync(fake, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("finds chromium on PATH", () => {
    expect(chromiumPath({ PATH: `/nowhere:${dir}` })).toBe(fake);
  });

  it("takes CHROMIUM_PATH first", () => {
    expect(chromiumPath({ PATH: "/nowhere", CHROMIUM_PATH: fake })).toBe(fake);
  });

  it("says how to install Chromium when there is none, rather than skipping the browser tests", () => {
    expect(() => chromiumPath({ PATH: "/nowhere" })).toThrow(
      new ChromiumMissingError(
        "The console's browser tests need Chromium and found none on PATH. Install it (Debian/Ubuntu: sudo apt-get install -y chromium), or set CHROMIUM_PATH to a Chromium or Chrome binary",
      ),
    );
  });

  it("names a CHROMIUM_PATH that is not an executable", () => {
    expect(() => chromiumPath({ PATH: "", CHROMIUM_PATH: join(dir, "nope") })).toThrow(
      /CHROMIUM_PATH is .*nope, which is not an executable file/,
    );
  });
});
