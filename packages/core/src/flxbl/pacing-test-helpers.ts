import { KeyPacer, type PacerClock } from "./pacer.js";
import { RateController } from "./rate-controller.js";

/**
 * A manual clock for {@link KeyPacer}: time moves only when {@link ManualClock.run} fires the next
 * timer, so the pacing tests are exact on any machine. Test support, not exported from the package.
 */
export class ManualClock implements PacerClock {
  #now = 0;
  #seq = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  now = (): number => this.#now;

  setTimer = (fn: () => void, ms: number): unknown => {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  };

  clearTimer = (timer: unknown): void => {
    this.#timers.delete(timer as number);
  };

  /** Fires timers in time order (settling promises after each) until `until` or none is left. */
  async run(until: number): Promise<void> {
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) if (!next || entry[1].at < next[1].at) next = entry;
      if (!next || next[1].at > until) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].fn();
    }
    this.#now = Math.max(this.#now, until);
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** A token bucket server (rate `rps`, `burst` saved up), its 429s carrying a whole-second `Retry-After`. */
export interface SimServer {
  rps: number;
  burst: number;
  /** Answer time of every call. @default 20 */
  latencyMs?: number;
  /** `X-RateLimit-*` headers on every answer. @default false */
  headers?: boolean;
}

/** What a simulated run saw, by the server's clock. */
export interface SimResult {
  sends: Array<{ at: number; status: number }>;
  controller: RateController;
  pacer: KeyPacer;
}

/**
 * `callers` loops, each sending one call after another through one shared pacer to `server`, for
 * `durationMs` of simulated time.
 */
export async function simulate(options: {
  server: SimServer;
  callers: number;
  durationMs: number;
  budgetRps?: number;
}): Promise<SimResult> {
  const { server } = options;
  const clock = new ManualClock();
  const controller = new RateController({ budgetRps: options.budgetRps });
  const pacer = new KeyPacer(controller, clock);
  const sends: SimResult["sends"] = [];
  let tokens = server.burst;
  let refilledAt = 0;
  const latency = server.latencyMs ?? 20;
  const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));
  let stop = false;
  const caller = async () => {
    while (!stop) {
      const ticket = await pacer.acquire({});
      const at = clock.now();
      tokens = Math.min(server.burst, tokens + ((at - refilledAt) / 1000) * server.rps);
      refilledAt = at;
      const admitted = tokens >= 1;
      if (admitted) tokens -= 1;
      sends.push({ at, status: admitted ? 200 : 429 });
      const headers = new Headers();
      if (!admitted) headers.set("retry-after", String(Math.ceil((1 - tokens) / server.rps)));
      if (server.headers) {
        headers.set("x-ratelimit-limit", String(server.rps));
        headers.set("x-ratelimit-remaining", String(Math.floor(tokens)));
        headers.set("x-ratelimit-reset", String(Math.ceil((server.burst - tokens) / server.rps)));
      }
      await sleep(latency);
      pacer.answered(ticket, admitted ? 200 : 429, headers);
    }
  };
  const loops = Array.from({ length: options.callers }, caller);
  await clock.run(options.durationMs);
  stop = true;
  await clock.run(options.durationMs + 600_000);
  await Promise.all(loops);
  return { sends, controller, pacer };
}
