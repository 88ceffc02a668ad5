import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "./logger.js";
import { fakeFlxblKey, secretShapes } from "./test-helpers.js";

const sessionToken = "IQoJb3JpZ2luX2VjEXAMPLEnotarealsessiontokenForLoggerTest";
const headerSecrets = [
  "notarealheaderbearer",
  "notarealheaderapikey",
  "notarealtuplekey",
  "notarealrawkey",
  "c=notreal",
];

/** Every substring that must never reach the log in the "every shape" test. */
const allSecrets = [...secretShapes.flatMap((s) => s.secrets), ...headerSecrets, sessionToken];

describe("createLogger", () => {
  let written: string[];

  beforeEach(() => {
    // Outside dev mode Powertools writes through its own Console on process.stdout, as in Lambda.
    vi.stubEnv("POWERTOOLS_DEV", "false");
    written = [];
    const capture = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    vi.spyOn(process.stdout, "write").mockImplementation(capture);
    vi.spyOn(process.stderr, "write").mockImplementation(capture);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it("writes no secret of any shape, wherever it sits in the line", () => {
    // Prepare
    vi.stubEnv("AWS_SESSION_TOKEN", sessionToken);
    const logger = createLogger({ serviceName: "redaction-test", logLevel: "DEBUG" });
    const cause = new Error(`FLXBL answered: ${secretShapes.map((s) => s.text).join("\n")}`);
    const error = Object.assign(new Error(`refused ${fakeFlxblKey}`, { cause }), { apiKey: "notarealheaderapikey" });

    // Act
    logger.error(`request failed: ${secretShapes.map((s) => s.text).join("\n")}`, {
      shapes: secretShapes.map((s) => s.text),
      headers: { Authorization: "Bearer notarealheaderbearer", "X-Api-Key": "notarealheaderapikey" },
      headerTuples: [["x-api-key", "notarealtuplekey"]],
      rawHeaders: ["Host", "api.example.com", "X-Api-Key", "notarealrawkey", "Cookie", "c=notreal"],
      body: Buffer.from(fakeFlxblKey),
      bytes: new TextEncoder().encode(fakeFlxblKey),
      aws: `assumed role with ${sessionToken}`,
      error,
    });

    // Assess
    const output = written.join("");
    const record = JSON.parse(output);
    expect(record.message).toMatch(/^request failed: /);
    for (const secret of allSecrets) expect(output).not.toContain(secret);
    expect(record.body).toBe(`[binary ${fakeFlxblKey.length} bytes]`);
    expect(record.bytes).toBe(`[binary ${fakeFlxblKey.length} bytes]`);
    expect(record.headers).toEqual({ Authorization: "[REDACTED]", "X-Api-Key": "[REDACTED]" });
    expect(record.error).toMatchObject({
      name: "Error",
      message: "refused [REDACTED flxbl key]",
      apiKey: "[REDACTED]",
      cause: { name: "Error" },
    });
    expect(record.error.location).toEqual(expect.any(String));
  });

  it("logs an error whose cause chain loops instead of overflowing the stack", () => {
    const logger = createLogger({ serviceName: "redaction-test" });
    const a = new Error(`a ${fakeFlxblKey}`);
    a.cause = new Error("b", { cause: a });

    logger.error("failed", { error: a });

    const record = JSON.parse(written.join(""));
    expect(record.error).toMatchObject({
      message: "a [REDACTED flxbl key]",
      cause: { message: "b", cause: "[Circular]" },
    });
  });
});
