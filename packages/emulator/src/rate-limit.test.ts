import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, onTestFinished } from "vitest";
import type { Emulator, EmulatorConfig } from "./index.js";
import { RateLimiter } from "./rate-limit.js";
import { as, keyWith, product, startAppEmulator } from "./test-helpers.js";

const throttledBody = { statusCode: 429, message: "ThrottlerException: Too Many Requests", error: "Too Many Requests" };

/** An in-memory emulator closed when the test ends. */
async function emulator(config: Partial<EmulatorConfig>): Promise<Emulator> {
  const flxbl = await startAppEmulator(config);
  onTestFinished(() => flxbl.close());
  return flxbl;
}

/** Sends `n` list requests one after another and returns their statuses. */
async function statuses(flxbl: Emulator, key: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await as(flxbl, key).get("/dynamic/Product")).status);
  return out;
}

async function patchConfig(flxbl: Emulator, body: unknown) {
  return fetch(`${flxbl.origin}/_emulator/config`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${flxbl.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("rate limit over HTTP", () => {
  it("lets a full burst through", async () => {
    const flxbl = await emulator({ rateLimit: { rps: 1, burst: 3 } });

    const got = await statuses(flxbl, flxbl.adminKey, 3);

    expect(got).toEqual([200, 200, 200]);
  });

  it("answers 429 with the ThrottlerException body to the request after the burst", async () => {
    const flxbl = await emulator({ rateLimit: { rps: 1, burst: 3 } });
    await statuses(flxbl, flxbl.adminKey, 3);

    const res = await as(flxbl, flxbl.adminKey).get("/dynamic/Product");

    expect(res.status).toBe(429);
    expect(res.body).toEqual(throttledBody);
  });

  it("sends Retry-After as whole seconds of at least 1", async () => {
    // A half-second wait: rounded up to 1, never down to 0.
    const flxbl = await emulator({ rateLimit: { rps: 2, burst: 1 } });
    await statuses(flxbl, flxbl.adminKey, 1);

    const res = await as(flxbl, flxbl.adminKey).get("/dynamic/Product");

    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
  });

  it("rounds the wait for the next token up in Retry-After", async () => {
    const flxbl = await emulator({ rateLimit: { rps: 0.5, burst: 1 } });
    await statuses(flxbl, flxbl.adminKey, 1);

    const res = await as(flxbl, flxbl.adminKey).get("/dynamic/Product");

    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("2");
  });

  it("keeps a bucket per key, so another key is not throttled", async () => {
    const flxbl = await emulator({ rateLimit: { rps: 0.5, burst: 2 } });
    const other = await keyWith(flxbl, ["entity:*:read"]);
    const spent = await statuses(flxbl, flxbl.adminKey, 2);

    const res = await as(flxbl, other).get("/dynamic/Product");

    expect(spent).toEqual([200, 429]);
    expect(res.status).toBe(200);
  });

  it("refills tokens over time", async () => {
    // A token every 250 ms: long enough that the second request cannot sneak one on a busy machine.
    const flxbl = await emulator({ rateLimit: { rps: 4, burst: 1 } });
    const spent = await statuses(flxbl, flxbl.adminKey, 2);

    await sleep(300);
    const res = await as(flxbl, flxbl.adminKey).get("/dynamic/Product");

    expect(spent).toEqual([200, 429]);
    expect(res.status).toBe(200);
  });

  it("does not apply a throttled write", async () => {
    const flxbl = await emulator({ rateLimit: { rps: 0.5, burst: 2 } });
    const reader = await keyWith(flxbl, ["entity:*:read"]);
    const admin = as(flxbl, flxbl.adminKey);
    await admin.post("/dynamic/Product", product({ sku: "FIRST" }));

    const res = await admin.post("/dynamic/Product", product({ sku: "THROTTLED" }));

    expect(res.status).toBe(429);
    const list = await as(flxbl, reader).get("/dynamic/Product");
    expect(list.body.data.map((p: { sku: string }) => p.sku)).toEqual(["FIRST"]);
  });

  it("answers 429 without Retry-After when behaviour.retryAfterHeader is false", async () => {
    const flxbl = await emulator({ rateLimit: { rps: 1, burst: 1 }, behaviour: { retryAfterHeader: false } });
    await statuses(flxbl, flxbl.adminKey, 1);

    const res = await as(flxbl, flxbl.adminKey).get("/dynamic/Product");

    expect(res.status).toBe(429);
    expect(res.body).toEqual(throttledBody);
    expect(res.headers.has("retry-after")).toBe(false);
  });

  it("sends no rate-limit headers by default (FLXBL documents none)", async () => {
    const flxbl = await emulator({ rateLimit: { rps: 1, burst: 1 } });

    const res = await as(flxbl, flxbl.adminKey).get("/dynamic/Product");

    expect(res.status).toBe(200);
    expect([...res.headers.keys()].filter((name) => name.includes("ratelimit"))).toEqual([]);
  });

  it("sends the IETF draft's RateLimit-Policy and RateLimit with behaviour.rateLimitHeaders", async () => {
    const flxbl = await emulator({ rateLimit: { rps: 2, burst: 2 }, behaviour: { rateLimitHeaders: true } });

    const [first, second, third] = [
      await as(flxbl, flxbl.adminKey).get("/dynamic/Product"),
      await as(flxbl, flxbl.adminKey).get("/dynamic/Product"),
      await as(flxbl, flxbl.adminKey).get("/dynamic/Product"),
    ];

    expect(first.headers.get("ratelimit-policy")).toBe('"bucket";q=2;w=1');
    expect(first.headers.get("ratelimit")).toBe('"bucket";r=1;t=0');
    expect(second.headers.get("ratelimit")).toBe('"bucket";r=0;t=1');
    expect(third.status).toBe(429);
    expect(third.headers.get("ratelimit")).toBe('"bucket";r=0;t=1');
    expect(third.headers.get("retry-after")).toBe("1");
  });

  it("stops throttling once PATCH /_emulator/config sets rateLimit to null", async () => {
    const flxbl = await emulator({ rateLimit: { rps: 0.5, burst: 1 } });
    expect(await statuses(flxbl, flxbl.adminKey, 2)).toEqual([200, 429]);

    const patched = await patchConfig(flxbl, { rateLimit: null });

    expect(patched.status).toBe(200);
    expect(await statuses(flxbl, flxbl.adminKey, 5)).toEqual([200, 200, 200, 200, 200]);
  });

  it("starts throttling once PATCH /_emulator/config sets a rateLimit", async () => {
    const flxbl = await emulator({});
    expect(await statuses(flxbl, flxbl.adminKey, 3)).toEqual([200, 200, 200]);

    await patchConfig(flxbl, { rateLimit: { rps: 0.5, burst: 1 } });

    expect(await statuses(flxbl, flxbl.adminKey, 2)).toEqual([200, 429]);
  });

  it("does not throttle without a rateLimit", async () => {
    const flxbl = await emulator({});

    const got = await statuses(flxbl, flxbl.adminKey, 30);

    expect(got.every((s) => s === 200)).toBe(true);
  });
});

/** A clock the test moves by hand, in milliseconds. */
function manualClock() {
  let t = 1_000;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe("RateLimiter", () => {
  it("lets every request through without a limit", () => {
    const limiter = new RateLimiter(null, manualClock().now);

    const waits = Array.from({ length: 1000 }, () => limiter.take("k"));

    expect(waits.every((w) => w === 0)).toBe(true);
  });

  it("lets a full burst through at one instant", () => {
    const limiter = new RateLimiter({ rps: 2, burst: 3 }, manualClock().now);

    const waits = [limiter.take("k"), limiter.take("k"), limiter.take("k")];

    expect(waits).toEqual([0, 0, 0]);
  });

  it("answers the seconds until the next token once the burst is spent", () => {
    const limiter = new RateLimiter({ rps: 2, burst: 3 }, manualClock().now);
    for (let i = 0; i < 3; i++) limiter.take("k");

    const wait = limiter.take("k");

    expect(wait).toBeCloseTo(0.5, 9);
  });

  it("shortens the wait as time passes", () => {
    const clock = manualClock();
    const limiter = new RateLimiter({ rps: 2, burst: 1 }, clock.now);
    limiter.take("k");

    clock.advance(200);
    const wait = limiter.take("k");

    expect(wait).toBeCloseTo(0.3, 9);
  });

  it("does not charge a refused request", () => {
    const limiter = new RateLimiter({ rps: 1, burst: 1 }, manualClock().now);
    limiter.take("k");

    const waits = [limiter.take("k"), limiter.take("k"), limiter.take("k")];

    expect(waits).toEqual([1, 1, 1]);
  });

  it("adds rps tokens a second", () => {
    const clock = manualClock();
    const limiter = new RateLimiter({ rps: 4, burst: 4 }, clock.now);
    for (let i = 0; i < 4; i++) limiter.take("k");

    clock.advance(500);
    const waits = [limiter.take("k"), limiter.take("k"), limiter.take("k")];

    expect(waits[0]).toBe(0);
    expect(waits[1]).toBe(0);
    expect(waits[2]).toBeGreaterThan(0);
  });

  it("saves up at most burst tokens however long a key is idle", () => {
    const clock = manualClock();
    const limiter = new RateLimiter({ rps: 10, burst: 3 }, clock.now);
    limiter.take("k");

    clock.advance(60_000);
    const waits = Array.from({ length: 4 }, () => limiter.take("k"));

    expect(waits.map((w) => w === 0)).toEqual([true, true, true, false]);
  });

  it("keeps a separate bucket per key", () => {
    const limiter = new RateLimiter({ rps: 1, burst: 1 }, manualClock().now);
    limiter.take("a");

    const waits = [limiter.take("a"), limiter.take("b")];

    expect(waits).toEqual([1, 0]);
  });

  it("starts every bucket full again when the limit changes", () => {
    const limiter = new RateLimiter({ rps: 1, burst: 1 }, manualClock().now);
    limiter.take("k");

    limiter.limit = { rps: 1, burst: 2 };

    expect([limiter.take("k"), limiter.take("k"), limiter.take("k")]).toEqual([0, 0, 1]);
  });

  it("starts every bucket full again on refill()", () => {
    const limiter = new RateLimiter({ rps: 1, burst: 1 }, manualClock().now);
    limiter.take("k");

    limiter.refill();

    expect(limiter.take("k")).toBe(0);
  });

  it("lets everything through once the limit is set to null", () => {
    const limiter = new RateLimiter({ rps: 1, burst: 1 }, manualClock().now);
    limiter.take("k");

    limiter.limit = null;

    expect([limiter.take("k"), limiter.take("k")]).toEqual([0, 0]);
    expect(limiter.limit).toBeNull();
  });
});
