import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { type Browser, chromium } from "playwright-core";

/** Where Debian's `chromium` package puts the browser, and other common names for it on PATH. */
const candidates = ["chromium", "chromium-browser", "google-chrome"];

/**
 * Raised when no Chromium can be found: says how to install one (CI's `.ci/run` does it) or
 * where to point `CHROMIUM_PATH`.
 */
export class ChromiumMissingError extends Error {
  override name = "ChromiumMissingError";
}

/** The Chromium binary: `CHROMIUM_PATH` if set, else the first of {@link candidates} on PATH. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.CHROMIUM_PATH;
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (given) {
    if (executable(given)) return given;
    throw new ChromiumMissingError(`CHROMIUM_PATH is ${given}, which is not an executable file`);
  }
  for (const name of candidates)
    for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
      const file = join(dir, name);
      if (executable(file)) return file;
    }
  throw new ChromiumMissingError(
    "The console's browser tests need Chromium and found none on PATH. Install it (Debian/Ubuntu: sudo apt-get install -y chromium), or set CHROMIUM_PATH to a Chromium or Chrome binary",
  );
}

/**
 * Starts headless Chromium through playwright-core (no browser download: the system's own).
 *
 * @example
 * ```ts
 * const browser = await launchChromium();
 * const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
 * await page.goto("http://127.0.0.1:3000/_local/console/");
 * await browser.close();
 * ```
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true });
}
