import { describe, expect, it } from "vitest";
import { type AttemptFailure, decideRetry, type RetryInput, retrySettings } from "./retry.js";

/** A failed first attempt of four, no deadline, jitter pinned to half the window. */
const input = (overrides: Partial<RetryInput> = {}): RetryInput => ({
  attempt: 1,
  settings: retrySettings({}),
  random: () => 0.5,
  failure: { kind: "status", status: 503 },
  idempotent: true,
  leftMs: Number.POSITIVE_INFINITY,
  ...overrides,
});

const status = (code: number): AttemptFailure => ({ kind: "status", status: code });

describe("retrySettings", () => {
  it("fills in the documented defaults", () => {
    expect(retrySettings(undefined)).toEqual({ attempts: 4, baseDelayMs: 100, maxDelayMs: 5000 });
  });

  it("keeps at least one attempt", () => {
    expect(retrySettings({ attempts: 0 }).attempts).toBe(1);
  });
});

describe("decideRetry: which failures are sent again", () => {
  it.each<[string, AttemptFailure, boolean, boolean]>([
    ["a 429 of a read", status(429), true, true],
    ["a 429 of a create (FLXBL did not apply it)", status(429), false, true],
    ["a 500 of a read", status(500), true, true],
    ["a 503 of an update", status(503), true, true],
    ["a 503 of a create (it may have been applied)", status(503), false, false],
    ["a 502 of a create", status(502), false, false],
    ["a network error of a read", { kind: "network", mayHaveArrived: true }, true, true],
    ["a network error of a create that may have arrived", { kind: "network", mayHaveArrived: true }, false, false],
    ["a refused connection of a create (never sent)", { kind: "network", mayHaveArrived: false }, false, true],
    ["a refused connection of a read", { kind: "network", mayHaveArrived: false }, true, true],
    ["a timeout of a read", { kind: "timeout" }, true, true],
    ["a timeout of a create", { kind: "timeout" }, false, false],
    ["a 400", status(400), true, false],
    ["a 401", status(401), true, false],
    ["a 403", status(403), true, false],
    ["a 404", status(404), true, false],
    ["a 405", status(405), true, false],
    ["a 409", status(409), true, false],
    ["a 422", status(422), true, false],
  ])("%s (%j, idempotent %s): retried %s", (_, failure, idempotent, retried) => {
    // Act
    const decision = decideRetry(input({ failure, idempotent }));

    // Assess
    expect(decision.action).toBe(retried ? "retry" : "stop");
    if (!retried) expect(decision).toEqual({ action: "stop", reason: "not-retryable" });
  });
});

describe("decideRetry: the attempt budget", () => {
  it("stops after the last attempt, even for a 429", () => {
    expect(decideRetry(input({ attempt: 4, failure: status(429) }))).toEqual({
      action: "stop",
      reason: "attempts-spent",
    });
  });

  it("stops at once when one attempt is all there is", () => {
    expect(decideRetry(input({ settings: retrySettings({ attempts: 1 }) }))).toEqual({
      action: "stop",
      reason: "attempts-spent",
    });
  });

  it("says not-retryable rather than attempts-spent when both hold", () => {
    expect(decideRetry(input({ attempt: 4, failure: status(404) }))).toEqual({
      action: "stop",
      reason: "not-retryable",
    });
  });

  it("does not draw a random number when it stops", () => {
    // Prepare
    let draws = 0;
    const random = () => {
      draws++;
      return 0.5;
    };

    // Act
    decideRetry(input({ attempt: 4, random }));
    decideRetry(input({ failure: status(404), random }));

    // Assess
    expect(draws).toBe(0);
  });
});

describe("decideRetry: full jitter", () => {
  it.each([
    // attempt, random, expected wait: a random share of min(maxDelayMs, base * 2^(attempt - 1)).
    [1, 0, 0],
    [1, 0.5, 50],
    [1, 0.999, 99],
    [2, 0.5, 100],
    [3, 0.5, 200],
    [3, 0.999, 399],
  ])("waits floor(random * window) after attempt %i (random %d): %i ms", (attempt, random, waitMs) => {
    expect(decideRetry(input({ attempt, random: () => random }))).toEqual({ action: "retry", waitMs });
  });

  it("caps the window at maxDelayMs", () => {
    // Prepare: attempt 9 of a base of 100 would be a 25.6-s window.
    const settings = retrySettings({ attempts: 10, baseDelayMs: 100, maxDelayMs: 1000 });

    // Act
    const decision = decideRetry(input({ attempt: 9, settings, random: () => 0.999 }));

    // Assess
    expect(decision).toEqual({ action: "retry", waitMs: 999 });
  });

  it("stays within [0, window) over many draws", () => {
    // Prepare
    const settings = retrySettings({ attempts: 10, baseDelayMs: 100, maxDelayMs: 5000 });

    for (let attempt = 1; attempt < 10; attempt++) {
      const window = Math.min(5000, 100 * 2 ** (attempt - 1));
      for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999999]) {
        // Act
        const decision = decideRetry(input({ attempt, settings, random: () => r }));

        // Assess
        if (decision.action !== "retry") throw new Error(`expected a retry, got ${JSON.stringify(decision)}`);
        expect(decision.waitMs).toBeGreaterThanOrEqual(0);
        expect(decision.waitMs).toBeLessThan(window);
        expect(Number.isInteger(decision.waitMs)).toBe(true);
      }
    }
  });
});

describe("decideRetry: Retry-After as a floor", () => {
  it("waits the Retry-After when it is longer than the jitter", () => {
    expect(decideRetry(input({ failure: status(429), floorMs: 2000 }))).toEqual({ action: "retry", waitMs: 2000 });
  });

  it("waits the jitter when it is longer than the Retry-After", () => {
    expect(decideRetry(input({ attempt: 3, floorMs: 10 }))).toEqual({ action: "retry", waitMs: 200 });
  });

  it("lets a Retry-After beyond maxDelayMs win", () => {
    // Prepare
    const settings = retrySettings({ maxDelayMs: 100 });

    // Act
    const decision = decideRetry(input({ settings, failure: status(429), floorMs: 30_000 }));

    // Assess
    expect(decision).toEqual({ action: "retry", waitMs: 30_000 });
  });

  it("does not make a failure retryable", () => {
    expect(decideRetry(input({ failure: status(503), idempotent: false, floorMs: 1000 }))).toEqual({
      action: "stop",
      reason: "not-retryable",
    });
  });
});

describe("decideRetry: the cutoff", () => {
  it("retries when the wait ends before the cutoff", () => {
    expect(decideRetry(input({ random: () => 0.5, leftMs: 51 }))).toEqual({ action: "retry", waitMs: 50 });
  });

  it("stops when the wait would end at the cutoff, with the wait as the hint", () => {
    expect(decideRetry(input({ random: () => 0.5, leftMs: 50 }))).toEqual({
      action: "stop",
      reason: "deadline",
      waitMs: 50,
      retryAfterMs: 50,
    });
  });

  it("stops when the Retry-After would pass the cutoff, with the Retry-After as the hint", () => {
    expect(decideRetry(input({ failure: status(429), floorMs: 3000, leftMs: 1000 }))).toEqual({
      action: "stop",
      reason: "deadline",
      waitMs: 3000,
      retryAfterMs: 3000,
    });
  });

  it("stops when the cutoff has already passed", () => {
    expect(decideRetry(input({ random: () => 0, leftMs: -5 }))).toMatchObject({ action: "stop", reason: "deadline" });
  });

  it("weighs the budget before the cutoff", () => {
    expect(decideRetry(input({ attempt: 4, leftMs: 0 }))).toEqual({ action: "stop", reason: "attempts-spent" });
  });
});
