import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
// The emulator is the FLXBL stand-in these integration tests run against; core does not ship with it.
import { defaultBehaviour, type Emulator } from "../../../emulator/src/index.js";
import { keyWith, startAppEmulator } from "../../../emulator/src/test-helpers.js";
import { createFlxblClient, type FlxblClient } from "./client.js";
import { resetPacers } from "./pacer.js";

/** A fetch that notes when each request was sent and how it was answered. */
function recordingFetch() {
  const sends: Array<{ at: number; status?: number }> = [];
  const fetcher: typeof fetch = async (input, init) => {
    const send: { at: number; status?: number } = { at: performance.now() };
    sends.push(send);
    const res = await fetch(input, init);
    send.status = res.status;
    return res;
  };
  return { sends, fetch: fetcher };
}

/** The most sends in any `windowMs`. */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[i] as number) - (sorted[j] as number) >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** `callers` loops sharing `calls` list requests, each through its own client of the key. */
async function callTogether(clients: FlxblClient[], calls: number): Promise<void> {
  let left = calls;
  await Promise.all(
    clients.map(async (client) => {
      while (left-- > 0) await client.entity("Product").list({ limit: 1 });
    }),
  );
}

describe("FLXBL key pacing over HTTP (emulator token bucket, Retry-After in whole seconds)", () => {
  let flxbl: Emulator;
  let key: string;

  beforeAll(async () => {
    flxbl = await startAppEmulator();
  });
  afterAll(() => flxbl.close());
  beforeEach(async () => {
    flxbl.configure({ rateLimit: null, behaviour: defaultBehaviour });
    key = await keyWith(flxbl, ["entity:Product:read"]);
    flxbl.resetStats();
    resetPacers();
  });

  it("shares one budget among every client and caller of a key: N together never exceed it", async () => {
    flxbl.configure({ rateLimit: { rps: 20, burst: 2 } });
    const recorder = recordingFetch();
    const budgeted = createFlxblClient({
      baseUrl: flxbl.url,
      apiKey: key,
      fetch: recorder.fetch,
      rateLimit: { rps: 15 },
    });
    const other = createFlxblClient({ baseUrl: flxbl.url, apiKey: key, fetch: recorder.fetch });
    const clients = [budgeted, budgeted.bind({}), budgeted.bind({}), other, other.bind({}), other.bind({})];

    await callTogether(clients, 36);

    // The server's bucket (20 rps, burst 2) refused nothing: the six callers kept to 15 rps together.
    expect(flxbl.stats().statuses).toEqual({ 200: 36 });
    expect(
      busiestWindow(
        recorder.sends.map((s) => s.at),
        1_000,
      ),
    ).toBeLessThanOrEqual(16);
    expect(other.pacing()).toMatchObject({ rps: 15, source: "budget", throttled: 0 });
  });

  it("learns the limit from 429s and recovers to it, with few 429s and no failed call", async () => {
    flxbl.configure({ rateLimit: { rps: 50, burst: 5 } });
    const client = createFlxblClient({ baseUrl: flxbl.url, apiKey: key });
    const callers = Array.from({ length: 8 }, () => client.bind({}));

    await callTogether(callers, 250);

    const { statuses, total } = flxbl.stats();
    expect(statuses["200"]).toBe(250);
    expect(statuses["429"] ?? 0).toBeLessThan(0.05 * total);
    // The paced rate is measured from what the server admitted, by the client's clock: near R
    // (the simulated-clock test holds it to [0.9, 1] of R; here a loaded machine adds noise).
    const pacing = client.pacing();
    expect(pacing?.source).toBe("learned");
    expect(pacing?.rps).toBeGreaterThanOrEqual(0.85 * 50);
    expect(pacing?.rps).toBeLessThanOrEqual(1.05 * 50);
  });

  it("after a whole-second Retry-After, sends the held callers one by one, not together", async () => {
    flxbl.configure({ rateLimit: { rps: 20, burst: 2 } });
    const recorder = recordingFetch();
    const client = createFlxblClient({ baseUrl: flxbl.url, apiKey: key, fetch: recorder.fetch });

    await callTogether(
      Array.from({ length: 8 }, () => client.bind({})),
      30,
    );

    const firstRefusal = recorder.sends.find((s) => s.status === 429);
    expect(firstRefusal).toBeDefined();
    const after = recorder.sends.filter((s) => s.at > (firstRefusal?.at ?? 0) + 900).map((s) => s.at);
    expect(after.length).toBeGreaterThan(10);
    const gaps = after.slice(1).map((t, i) => t - (after[i] as number));
    // Eight callers woken together would send within a millisecond or two of each other.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(5);
    expect(flxbl.stats().statuses["200"]).toBe(30);
  });

  it("paces to the rate-limit headers when the server sends them, with no 429", async () => {
    flxbl.configure({ rateLimit: { rps: 40, burst: 10 }, behaviour: { rateLimitHeaders: true } });
    const client = createFlxblClient({ baseUrl: flxbl.url, apiKey: key });

    await callTogether(
      Array.from({ length: 4 }, () => client.bind({})),
      80,
    );

    expect(flxbl.stats().statuses).toEqual({ 200: 80 });
    expect(client.pacing()).toMatchObject({ source: "headers", throttled: 0 });
    expect(client.pacing()?.rps).toBeCloseTo(0.97 * 40, 5);
  });
});
