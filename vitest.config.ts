import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "stacks/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    // Integration tests start real servers on loopback; give them room on a 2-core machine.
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Quiet when green: console output (vitest's own capture) and what code under test writes
    // straight to stdout/stderr (test/quiet-output.ts) are shown only with a failing test.
    silent: "passed-only",
    setupFiles: ["./test/quiet-output.ts"],
    // node:sqlite (the emulator's store) warns that it is experimental on every import.
    execArgv: ["--disable-warning=ExperimentalWarning"],
  },
});
