import { describe, expect, it } from "vitest";
import { KeyPacer, PaceDeadlineError } from "./pacer.js";
import { ManualClock, type SimResult, simulate } from "./pacing-test-helpers.js";
import { RateController } from "./rate-controller.js";
import { parseRateLimitHeaders } from "./rate-headers.js";

/** Calls the server admitted from `from` to `to` ms, per second. */
function admittedRate(sends: SimResult["sends"], from: number, to: number): number {
  return (sends.filter((s) => s.status === 200 && s.at >= from && s.at < to).length * 1000) / (to - from);
}

/** The most sends in any `windowMs` (from `from` on). */
function busiestWindow(sends: SimResult["sends"], windowMs: number, from = 0): number {
  const times = sends.filter((s) => s.at >= from).map((s) => s.at);
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

const throttled = (r: SimResult) => r.sends.filter((s) => s.status === 429);

describe("RateController against a token bucket (simulated clock)", () => {
  it.each([
    [50, 5],
    [200, 20],
  ])(
    "learns R = %i (burst %i) from 429s and holds ≥ 0.9 of it, with under 5%% of sends refused",
    async (rps, burst) => {
      const run = await simulate({ server: { rps, burst }, callers: 8, durationMs: 20_000 });
      const refused = throttled(run);
      expect(refused.length).toBeLessThan(0.05 * run.sends.length);
      // Two holds to learn it (the first burst, then the ramp's overshoot), then paced just under R.
      const learnedBy = (refused.at(-1)?.at ?? 0) + 1_000;
      expect(learnedBy).toBeLessThan(5_000);
      expect(admittedRate(run.sends, learnedBy, 20_000)).toBeGreaterThanOrEqual(0.9 * rps);
      expect(admittedRate(run.sends, learnedBy, 20_000)).toBeLessThanOrEqual(rps);
      expect(run.controller.rate(20_000)).toMatchObject({ source: "learned" });
    },
  );

  it("treats a whole-second Retry-After as the key's earliest time, then lets callers go one by one", async () => {
    const run = await simulate({ server: { rps: 50, burst: 5 }, callers: 8, durationMs: 10_000 });
    const firstRefusal = throttled(run)[0]?.at ?? 0;
    // Every caller was held: nothing was sent in the second after the first 429 was answered.
    const held = run.sends.filter((s) => s.at > firstRefusal + 20 && s.at < firstRefusal + 1_000);
    expect(held).toEqual([]);
    // After the hold: spaced sends, never the 8 callers at once.
    const after = run.sends.filter((s) => s.at >= firstRefusal + 1_000).map((s) => s.at);
    const gaps = after.slice(1).map((t, i) => t - (after[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(10);
  });

  it("keeps N callers together within a declared budget, with no 429 under a higher limit", async () => {
    const run = await simulate({ server: { rps: 50, burst: 5 }, callers: 16, durationMs: 10_000, budgetRps: 20 });
    expect(throttled(run)).toEqual([]);
    expect(busiestWindow(run.sends, 1_000)).toBeLessThanOrEqual(21);
    expect(admittedRate(run.sends, 0, 10_000)).toBeGreaterThanOrEqual(19);
    expect(run.controller.rate(10_000)).toEqual({ rps: 20, source: "budget" });
  });

  it("paces to what X-RateLimit headers advertise, before any 429", async () => {
    const run = await simulate({ server: { rps: 50, burst: 10, headers: true }, callers: 8, durationMs: 10_000 });
    expect(throttled(run)).toEqual([]);
    expect(admittedRate(run.sends, 1_000, 10_000)).toBeGreaterThanOrEqual(0.9 * 50);
    expect(run.controller.rate(10_000)).toMatchObject({ source: "headers" });
  });

  it("halves the rate and ramps again after a 429 that nothing got through before (another client drained the limit)", () => {
    const controller = new RateController({});
    const at = (now: number) => controller.started(now);
    // First burst: 5 admitted, then a refusal with Retry-After: 1.
    const burst = [0, 0, 0, 0, 0].map(at);
    const refused = at(0);
    for (const t of burst) controller.answered(t, 20, { status: 200 });
    controller.answered(refused, 20, { status: 429, retryAfterMs: 1_000 });
    expect(controller.nextStart(100)).toBe(1_020);
    const first = at(1_020);
    const ramp = controller.rate(1_040).rps as number;
    controller.answered(first, 1_040, { status: 429, retryAfterMs: 1_000 });
    expect(controller.rate(2_040).rps).toBeCloseTo(ramp / 2, 5);
    expect(controller.rate(3_040).rps).toBeGreaterThan(ramp / 2);
    expect(controller.blockedUntil).toBe(2_040);
  });
});

describe("RateController schedule", () => {
  it("keeps its pace when timers fire late now and then (a busy event loop): the next turns catch up", () => {
    const controller = new RateController({ budgetRps: 200 });
    let now = 0;
    let sent = 0;
    let timers = 0;
    while (now < 10_000) {
      const next = controller.nextStart(now);
      // A turn that needs a timer: every 10th fires 15 ms late (three 5-ms intervals).
      if (next > now) now = next + (++timers % 10 === 0 ? 15 : 0);
      controller.started(now);
      sent++;
    }
    expect(sent / 10).toBeGreaterThanOrEqual(197);
    expect(sent / 10).toBeLessThanOrEqual(203);
  });

  it("makes up no time after a hold: the turns after a Retry-After are an interval apart", () => {
    const controller = new RateController({ budgetRps: 200 });
    controller.started(0);
    controller.holdUntil(12); // a short hold, ending within the lateness a turn may make up
    const first = controller.nextStart(0);
    expect(first).toBe(12);
    controller.started(first);
    expect(controller.nextStart(first)).toBeGreaterThanOrEqual(first + 5 - 2.5);
  });

  it("saves up no credit over a pause: after one, turns are an interval apart again", () => {
    const controller = new RateController({ budgetRps: 200 });
    controller.started(0);
    controller.started(controller.nextStart(0));
    const after = 1_000;
    controller.started(after);
    expect(controller.nextStart(after)).toBeGreaterThanOrEqual(after + 5 - 2.5);
  });
});

describe("RateController ramp", () => {
  it("rises only while it holds calls back, not while the callers send slower than it", () => {
    const controller = new RateController();
    const burst = [0, 0, 0, 0, 0].map((t) => controller.started(t));
    const refused = controller.started(0);
    for (const t of burst) controller.answered(t, 20, { status: 200 });
    controller.answered(refused, 20, { status: 429, retryAfterMs: 1_000 });
    const start = controller.rate(1_020).rps as number;
    // Ten seconds of calls 200 ms apart, each sent at once (no caller waited for the pace).
    for (let now = 1_020; now < 11_020; now += 200)
      controller.answered(controller.started(now), now + 20, { status: 200 });
    // Unchecked, the ramp would be at start + 40 rps/s × 10 s = 405 rps by now.
    expect(controller.rate(11_020).rps).toBeLessThan(start + 40 * 2);
  });
});

describe("RateController headers", () => {
  it("holds the key until a long window resets when nothing remains", () => {
    const controller = new RateController();
    const ticket = controller.started(0);
    const headers = new Headers({ "ratelimit-policy": '"hour";q=1000;w=3600', ratelimit: '"hour";r=0;t=120' });
    controller.answered(ticket, 10, { status: 200, readings: parseRateLimitHeaders(headers, 10) });
    expect(controller.nextStart(10)).toBeGreaterThanOrEqual(120_010);
  });

  it.each<[string, Record<string, string>, number]>([
    [
      "X-RateLimit (NestJS throttler)",
      { "x-ratelimit-limit": "50", "x-ratelimit-remaining": "20", "x-ratelimit-reset": "1" },
      50,
    ],
    [
      "IETF RateLimit-Policy with a window",
      { "ratelimit-policy": "600;w=60", ratelimit: "limit=600, remaining=500, reset=50" },
      10,
    ],
    [
      "IETF draft RateLimit-Limit/-Remaining/-Reset",
      { "ratelimit-limit": "100", "ratelimit-remaining": "99", "ratelimit-reset": "1" },
      100,
    ],
  ])("paces to %s", (_, values, rps) => {
    const controller = new RateController();
    const ticket = controller.started(0);
    controller.answered(ticket, 5, { status: 200, readings: parseRateLimitHeaders(new Headers(values), 5) });
    expect(controller.rate(5).source).toBe("headers");
    expect(controller.rate(5).rps).toBeLessThanOrEqual(rps);
    expect(controller.rate(5).rps).toBeGreaterThanOrEqual(0.95 * rps);
  });

  it("ignores malformed values", () => {
    expect(parseRateLimitHeaders(new Headers({ "x-ratelimit-limit": "lots", ratelimit: "???" }), 0)).toEqual([]);
  });
});

describe("KeyPacer", () => {
  it("refuses a turn that would come after the caller's cutoff, at once", async () => {
    const clock = new ManualClock();
    const pacer = new KeyPacer(new RateController({ budgetRps: 1 }), clock);
    await pacer.acquire({});
    await expect(pacer.acquire({ cutoff: 500 })).rejects.toBeInstanceOf(PaceDeadlineError);
  });

  it("lets an aborted caller out of the queue with the signal's reason", async () => {
    const clock = new ManualClock();
    const pacer = new KeyPacer(new RateController({ budgetRps: 1 }), clock);
    await pacer.acquire({});
    const abort = new AbortController();
    const waiting = pacer.acquire({ signal: abort.signal });
    expect(pacer.snapshot().waiting).toBe(1);
    abort.abort(new Error("lock lost"));
    await expect(waiting).rejects.toThrow("lock lost");
    expect(pacer.snapshot().waiting).toBe(0);
  });

  it("hears rate-limit headers a server starts sending within 16 answers, and then on every answer", async () => {
    const clock = new ManualClock();
    const pacer = new KeyPacer(new RateController(), clock);
    const answer = async (headers: Headers) => pacer.answered(await pacer.acquire({}), 200, headers);
    for (let i = 0; i < 20; i++) await answer(new Headers());
    expect(pacer.snapshot().rps).toBeUndefined();
    const limited = new Headers({ "ratelimit-policy": '"default";q=10;w=1', ratelimit: '"default";r=9;t=1' });
    let answers = 0;
    while (pacer.snapshot().source !== "headers" && answers < 20) {
      await answer(limited);
      answers++;
    }
    expect(answers).toBeLessThanOrEqual(16);
    expect(pacer.snapshot()).toMatchObject({ source: "headers" });
  });
});
