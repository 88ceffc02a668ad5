import type { RateLimitReading } from "./rate-headers.js";

/**
 * Where the paced rate of a key comes from: the function's declared budget (`rateLimit.rps` in its
 * manifest entry), FLXBL's rate-limit headers, or what the controller learned from 429s.
 *
 * @example
 * ```ts
 * const source: PacingSource = "headers";
 * ```
 */
export type PacingSource = "budget" | "headers" | "learned";

/**
 * The state of one key's rate controller, as the client shares it with every caller in the
 * container (`FlxblClient.pacing()`): what it paces at, whether it is holding the key, and
 * running totals a caller can take differences of (the job runner sizes its concurrency from them).
 *
 * @example
 * ```ts
 * const pacing: PacingSnapshot | undefined = client.pacing();
 * if (pacing?.rps) logger.info("FLXBL calls paced", { rps: pacing.rps, source: pacing.source });
 * ```
 */
export interface PacingSnapshot {
  /** Requests per second the key is paced at now; undefined when nothing limits it (calls go at once). */
  rps: number | undefined;
  /** What sets `rps`: the lowest of the budget, the headers' rate and the learned rate. */
  source: PacingSource | undefined;
  /** Epoch ms before which no call of the key is sent (a `Retry-After`); 0 when none. */
  blockedUntil: number;
  /** Calls waiting for their turn now. */
  waiting: number;
  /** Calls sent through the controller so far. */
  started: number;
  /** Milliseconds callers have spent waiting for their turn so far, all callers together. */
  waitedMs: number;
  /** 429s the key has been answered so far. */
  throttled: number;
}

/**
 * A call the controller let go: handed back with its answer, so a 429 is matched to the stretch
 * of sends ("episode") it ended and to its place in it.
 *
 * @example
 * ```ts
 * const controller = new RateController();
 * const ticket: PaceTicket = controller.started(Date.now());
 * controller.answered(ticket, Date.now(), { status: 200 });
 * ```
 */
export interface PaceTicket {
  /** The episode the call was sent in. */
  readonly episode: number;
  /** Calls sent before it in that episode. */
  readonly index: number;
  /** Epoch ms it was sent. */
  readonly at: number;
}

/**
 * What the controller hears of an answer: its status, `Retry-After` (ms, when sent) and the
 * rate-limit headers read by `parseRateLimitHeaders`.
 *
 * @example
 * ```ts
 * const heard: AnswerHeard = { status: 429, retryAfterMs: 1000, readings: [] };
 * ```
 */
export interface AnswerHeard {
  status: number;
  retryAfterMs?: number | undefined;
  readings?: readonly RateLimitReading[] | undefined;
}

/** The controller's constants (measured with `npm run bench`, figure 4). */
export const pacingTuning = {
  /** Share of an advertised rate (limit / window) paced at: room for clock skew and jitter. */
  headerShare: 0.97,
  /** A learned rate is forgotten after this long without a 429 (limits change), and headers after this long unseen. */
  forgetAfterMs: 300_000,
  /** Share of a rate learned from 429s paced at: room for the noise in the send times it is measured by. */
  learnedShare: 0.97,
  /** A rate is measured over at least this long (shorter stretches are mostly noise). */
  minSpanMs: 250,
  /** Sends one episode keeps (a long one is cut into episodes of this many). */
  episodeLimit: 10_000,
  /** The ramp after the first burst is steep enough that overshooting the limit drains the burst in about this long. */
  rampDrainS: 0.5,
  /** Later ramps (a 429 that measured nothing) start at half of what the cycle achieved and climb by 1/this of it per second (back to it in half this long). */
  gentleRampS: 10,
  /** A key idle (or held) this long has a full bucket again. */
  restMs: 1_000,
  /** Slowest paced rate. */
  minRps: 0.2,
  /** A turn may come this share of an interval early (at most `slackMaxMs`), so timers that fire late do not slow the pace. */
  slackShare: 0.5,
  slackMaxMs: 10,
  /**
   * A turn taken up to this many intervals late (at most `lateMaxMs`) keeps the schedule, so the
   * next turns catch up (a busy event loop fires timers late, and each reset would lose the
   * lateness for good); later than that, the schedule restarts (a pause saves up no credit).
   */
  lateIntervals: 4,
  lateMaxMs: 25,
} as const;

/** Sends since the key last rested or was held: what a 429 is measured against. */
interface Episode {
  id: number;
  start: number;
  /** Began on a rested key: the server's bucket was full. */
  rested: boolean;
  /** When each call of the episode was sent. */
  times: number[];
}

/**
 * One FLXBL key's rate controller: a pure state machine over an injected clock (every method
 * takes `now`), so tests drive it deterministically. `KeyPacer` puts the timers and the queue of
 * waiting callers around it.
 *
 * **Pacing.** Calls start one at a time, at least `1 / rate` apart (no credit is saved up), and
 * never before `blockedUntil`. The rate is the lowest of the declared budget, the rate the headers
 * advertise and the learned rate; with none of them a call goes at once.
 *
 * **`Retry-After`** holds the whole key until then: every caller waits, then they go one by one at
 * the paced rate, so a whole-second `Retry-After` costs the key that second once, not one sleep
 * per caller that ends in a herd.
 *
 * **Headers.** `limit / window` (the window from IETF's `w`, else the longest reset seen, at least
 * 1 s), and `remaining / reset` when the reset is 2 s or more (a long window shared with other
 * containers); `remaining: 0` holds the key until the reset.
 *
 * **Learning from 429s** models the limit as a token bucket (rate R, burst B). A 429 ends an
 * episode: the sends since the key last rested or was held. Whatever the bucket held at a send s,
 * the server admits at most `B + R·(T − s)` from s until it refuses a send at T; so each s bounds R
 * from below, and the largest bound (the s where the bucket was last full) is R itself.
 * 1. An unpaced key's first 429 ends a burst from a full bucket: its N₁ sends in T₁ give
 *    `B = N₁ − R·T₁`. R is not known yet: after the hold the key ramps up from what that cycle
 *    achieved, steeply enough to find any R in a second or two, gently enough (2B per 0.5 s²)
 *    that overshooting R drains the bucket over about half a second. The ramp rises only while
 *    it holds calls back, so callers slower than R do not leave it far above what they send.
 * 2. The next 429 ends the overshoot: R is the largest `(N(s) − N₁) / (T − s − T₁)` over the sends
 *    s at least 250 ms before it (all send times, so a delay common to every send cancels out), and
 *    the key is paced at 97 % of it, a margin for the noise in those times. An episode that
 *    measures nothing (too short, or begun on a bucket its hold only partly refilled) becomes the
 *    reference point instead, and the key ramps again from half of what it achieved.
 * 3. A 429 with nothing admitted before it (someone else drained the limit) halves the rate and
 *    ramps again.
 * A key without a 429 for five minutes forgets what it learned (there is no probing above a
 * measured rate in between).
 *
 * @example
 * ```ts
 * const controller = new RateController({ budgetRps: 20 });
 * let now = 0;
 * const first = controller.started(now); // at once
 * now = controller.nextStart(now); // about 50 ms later: 20 rps
 * controller.answered(first, now, { status: 200 });
 * ```
 */
export class RateController {
  #budget: number | undefined;
  #header: { rps: number; at: number } | undefined;
  /** The longest reset seen per header policy: the window of a quota that does not state one. */
  readonly #windows = new Map<string, number>();
  /** The learned rate: `rps` at `from`, rising by `slope` per second while it ramps. */
  #learned: { rps: number; from: number; slope: number } | undefined;
  /** The first burst of a rested key: the N₁ sends it admitted in T₁ ms, N₁ = B + R·T₁. */
  #burst: { size: number; spanMs: number } | undefined;
  #blockedUntil = 0;
  /** The slot the last call was given: on the ideal schedule, so a late timer does not shift it. */
  #lastSlot = Number.NEGATIVE_INFINITY;
  #lastSend = Number.NEGATIVE_INFINITY;
  #lastThrottle = Number.NEGATIVE_INFINITY;
  #episode: Episode | undefined;
  #episodes = 0;
  #started = 0;
  #throttled = 0;

  constructor(options: { budgetRps?: number | undefined } = {}) {
    this.budget = options.budgetRps;
  }

  /** The declared budget in requests per second; the lowest one declared is kept. */
  get budget(): number | undefined {
    return this.#budget;
  }

  set budget(rps: number | undefined) {
    if (rps === undefined) return;
    if (!Number.isFinite(rps) || rps <= 0) throw new RangeError(`a rate budget must be a positive number, got ${rps}`);
    this.#budget = this.#budget === undefined ? rps : Math.min(this.#budget, rps);
  }

  /** Epoch ms before which nothing is sent (0 when the key is not held). */
  get blockedUntil(): number {
    return this.#blockedUntil;
  }

  /** Calls started and 429s heard so far. */
  get totals(): { started: number; throttled: number } {
    return { started: this.#started, throttled: this.#throttled };
  }

  /** The paced rate at `now` and what sets it; `rps` undefined when nothing limits the key. */
  rate(now: number): { rps: number | undefined; source: PacingSource | undefined } {
    let best: { rps: number | undefined; source: PacingSource | undefined } = { rps: undefined, source: undefined };
    const take = (rps: number | undefined, source: PacingSource) => {
      if (rps !== undefined && (best.rps === undefined || rps < best.rps)) best = { rps, source };
    };
    take(this.#budget, "budget");
    if (this.#header && now - this.#header.at <= pacingTuning.forgetAfterMs) take(this.#header.rps, "headers");
    take(this.#learnedRate(now), "learned");
    return best;
  }

  /** The earliest time (>= now) the next call may start. */
  nextStart(now: number): number {
    const at = Math.max(now, this.#blockedUntil);
    const { rps } = this.rate(at);
    if (rps === undefined) return at;
    const interval = 1000 / rps;
    return Math.max(at, this.#lastSlot + interval - this.#slack(interval));
  }

  /**
   * A call starts at `now` (callers only start one when {@link nextStart} is not later);
   * `heldBack` when it had waited for its turn.
   */
  started(now: number, heldBack = false): PaceTicket {
    this.#started++;
    const rested = now - this.#lastSend >= pacingTuning.restMs;
    this.#lastSend = now;
    const { rps } = this.rate(now);
    if (rps === undefined) this.#lastSlot = now;
    else {
      // On schedule (or a little late): the ideal slot, so lateness is not carried over. After a
      // pause: now, so no credit is saved up.
      const interval = 1000 / rps;
      const due = this.#lastSlot + interval;
      const late = Math.max(
        this.#slack(interval),
        Math.min(interval * pacingTuning.lateIntervals, pacingTuning.lateMaxMs),
      );
      // A hold that ended after the slot was due (a Retry-After, `remaining: 0`) is no lateness to
      // make up: after it, the schedule starts again.
      this.#lastSlot = now > due + late || this.#blockedUntil > due ? now : due;
      // A ramp rises only while it holds calls back: time the callers left it unused does not count.
      const ramp = this.#learned;
      if (!heldBack && ramp && ramp.slope > 0) ramp.from += Math.max(0, now - Math.max(due, ramp.from));
    }
    if (!this.#episode || rested || this.#episode.times.length >= pacingTuning.episodeLimit)
      this.#episode = { id: ++this.#episodes, start: now, rested, times: [] };
    const episode = this.#episode;
    episode.times.push(now);
    return { episode: episode.id, index: episode.times.length - 1, at: now };
  }

  /** The answer to a call started with {@link started}. */
  answered(ticket: PaceTicket, now: number, answer: AnswerHeard): void {
    if (answer.readings && answer.readings.length > 0) this.#read(answer.readings, now);
    if (answer.status !== 429) return;
    this.#throttled++;
    this.#lastThrottle = now;
    const paced = this.rate(now).rps;
    this.holdUntil(now + (answer.retryAfterMs ?? (paced ? 1000 / paced : 0)));
    const episode = this.#episode;
    // Only the first 429 of an episode is measured; the calls in flight with it teach nothing more.
    if (!episode || ticket.episode !== episode.id) return;
    this.#learn(episode, ticket, now);
    // The first send after the hold starts the next episode (on a refilled bucket if the hold was long).
    this.#episode = undefined;
  }

  /** Holds the key until `until` (epoch ms) at the latest: a `Retry-After` heard elsewhere. */
  holdUntil(until: number): void {
    this.#blockedUntil = Math.max(this.#blockedUntil, until);
  }

  #slack(interval: number): number {
    return Math.min(interval * pacingTuning.slackShare, pacingTuning.slackMaxMs);
  }

  #learnedRate(now: number): number | undefined {
    const learned = this.#learned;
    if (!learned) return undefined;
    if (now - this.#lastThrottle > pacingTuning.forgetAfterMs) {
      this.#learned = undefined;
      this.#burst = undefined;
      return undefined;
    }
    const seconds = Math.max(0, now - learned.from) / 1000;
    return Math.max(pacingTuning.minRps, learned.rps + learned.slope * seconds);
  }

  /** The first 429 of `episode`, heard at `now` for the call of `ticket`. */
  #learn(episode: Episode, ticket: PaceTicket, now: number): void {
    const admitted = episode.times.slice(0, ticket.index);
    const resume = this.#blockedUntil;
    const burst = this.#burst;
    if (admitted.length === 0) {
      // Refused before anything got through: someone else emptied the limit. Halve the rate (an
      // unknown key held by a Retry-After starts at one call per hold, so the callers held with it
      // do not all go at once after it) and ramp up again until the next overshoot measures it.
      const rps = this.#learnedRate(now);
      if (rps === undefined && resume <= now) return;
      const from = rps === undefined ? 1000 / Math.max(1000, resume - episode.start) : rps / 2;
      this.#learned = { rps: from, from: resume, slope: this.#slope() };
      return;
    }
    if (burst !== undefined) {
      // Whatever the bucket held at a send s, the server admitted at most B + R·(T − s) from s to
      // the refusal at T, and B = N₁ − R·T₁: each s bounds R from below, and the largest bound (the
      // last s with a full bucket) is the rate.
      // Every time is a send time at the client: a delay common to every send (a busy event loop,
      // the network) cancels out; the pace keeps a margin for the rest.
      let best = 0;
      for (const [i, at] of admitted.entries()) {
        const span = ticket.at - at - burst.spanMs;
        if (span < pacingTuning.minSpanMs) break;
        best = Math.max(best, ((admitted.length - i - burst.size) * 1000) / span);
      }
      if (best > 0) {
        this.#learned = {
          rps: Math.max(pacingTuning.minRps, best * pacingTuning.learnedShare),
          from: resume,
          slope: 0,
        };
        return;
      }
    }
    // Nothing measured: this episode is the point the next is measured against (the first burst,
    // N₁ = B + R·T₁, or one whose bucket the hold only partly refilled, as the next hold will),
    // and the key ramps up from what this cycle achieved, hold included; from half of it after
    // a ramp that failed to measure (a bucket of more than a hold's worth lets a cycle run above R).
    if (episode.rested) this.#burst = { size: admitted.length, spanMs: ticket.at - episode.start };
    const cycle = (admitted.length * 1000) / Math.max(1, resume - episode.start);
    // The first ramp is steep, to find any R fast; once the bucket is known, a ramp that failed
    // to measure climbs gently from half of what it achieved (a steep one overshoots again, and
    // every overshoot costs a whole Retry-After).
    this.#learned =
      burst === undefined
        ? { rps: cycle, from: resume, slope: this.#slope() }
        : { rps: cycle / 2, from: resume, slope: this.#gentleSlope(cycle) };
  }

  /** A ramp that climbs by `rps / gentleRampS` per second. */
  #gentleSlope(rps: number): number {
    return Math.max(1, rps / pacingTuning.gentleRampS);
  }

  /** The ramp's slope: overshooting the rate by it for `rampDrainS` drains the bucket. */
  #slope(): number {
    return Math.max(1, (2 * (this.#burst?.size ?? 1)) / pacingTuning.rampDrainS ** 2);
  }

  #read(readings: readonly RateLimitReading[], now: number): void {
    let rps: number | undefined;
    for (const reading of readings) {
      const reset = reading.resetSeconds;
      if (reset !== undefined) this.#windows.set(reading.name, Math.max(reset, this.#windows.get(reading.name) ?? 0));
      const window = reading.windowSeconds ?? Math.max(1, this.#windows.get(reading.name) ?? 1);
      let rate = reading.limit === undefined ? undefined : reading.limit / window;
      if (reading.remaining !== undefined && reset !== undefined && reset >= 2) {
        // A long window, maybe shared with other containers: spread what is left over what remains of it.
        const spread = Math.max(reading.remaining, 1) / reset;
        rate = rate === undefined ? spread : Math.min(rate, spread);
      }
      // The next call would be refused: wait for the reset when it is long, else one interval.
      if (reading.remaining === 0)
        this.holdUntil(now + (reset !== undefined && reset >= 2 ? reset * 1000 : rate ? 1000 / rate : 0));
      if (rate !== undefined && (rps === undefined || rate < rps)) rps = rate;
    }
    if (rps !== undefined) this.#header = { rps: rps * pacingTuning.headerShare, at: now };
  }
}
