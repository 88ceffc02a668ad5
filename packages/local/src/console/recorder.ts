import { randomUUID } from "node:crypto";
import type { FlxblCall } from "../flxbl-calls.js";
import { parsePowertoolsLine } from "../function-lines.js";
import { maskBody, maskHeaders, maskValue } from "./mask.js";

/** An HTTP request as the gateway received it: kept (server-side only) so it can be replayed byte for byte. */
export interface Delivery {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One line a function printed during an invocation, redacted. */
export interface LogLine {
  at: string;
  level?: string;
  message: string;
  /** The line's other fields (Powertools JSON), redacted. */
  fields?: Record<string, unknown>;
}

/** An invocation as the console shows it: nothing secret in it (headers masked, everything redacted). */
export interface InvocationView {
  id: string;
  requestId: string;
  function: string;
  kind: "webhook" | "job" | "rotation";
  /** `POST /webhooks/payments`, `scheduled`, `rotation createSecret`. */
  trigger: string;
  startedAt: string;
  durationMs?: number;
  /** `running` until it ends; then the HTTP status of a webhook, `ok` or `error` for the others. */
  status: number | "running" | "ok" | "error";
  error?: { name: string; message: string };
  /**
   * The FLXBL calls it made, each marked `retry` when it repeats a call of the same invocation
   * that FLXBL refused with a retryable status (429, 5xx) or that failed; absent when calls are
   * not recorded (`startRuntime` without `recordFlxblCalls`).
   */
  flxblCalls?: Array<FlxblCall & { retry: boolean }>;
  flxblRetries: number;
  logs: LogLine[];
  /** Lines past the first {@link maxLogLines}, counted and not kept. */
  logsDropped?: number;
  event: { headers?: Record<string, string>; body?: string; value?: unknown };
  answer?: { statusCode?: number; headers?: Record<string, string>; body?: string; value?: unknown };
  /** The invocation this one replays (the same bytes and headers, sent again). */
  replayOf?: string;
}

/** A change the console's pages hear about (server-sent events). */
export type ConsoleEvent = { type: "invocation"; data: InvocationView } | { type: "job" | "rotation"; data: unknown };

/** How an invocation ended, as the function host reports it. */
export type Ending =
  | { kind: "result"; result: unknown; durationMs: number }
  | { kind: "error"; error: { name: string; message: string }; durationMs: number };

interface Entry {
  view: InvocationView;
  delivery?: Delivery;
  endedAt?: number;
}

/** Log lines kept per invocation. */
export const maxLogLines = 500;

/** Lines a function prints just after answering (stdout and IPC are separate pipes) still count this long. */
const lateLineMs = 1_000;

/**
 * The last invocations, in memory: at most `limit` (the oldest go first), each with its redacted
 * log lines, event and answer, and the raw delivery of a webhook for replays. Listeners hear every
 * change.
 *
 * @example
 * ```ts
 * const recorder = new InvocationRecorder({ limit: 200 });
 * const id = recorder.start({ function: "low-stock-alerts", kind: "job", trigger: "scheduled", requestId: "r-1", event: {} });
 * recorder.finish(id, { kind: "result", result: { scanned: 3 }, durationMs: 41 });
 * ```
 */
export class InvocationRecorder {
  readonly #entries: Entry[] = [];
  readonly #byRequest = new Map<string, Entry>();
  readonly #listeners = new Set<(event: ConsoleEvent) => void>();
  readonly #limit: number;

  /** `limit`: how many invocations are kept. @default 200 */
  constructor(options: { limit?: number } = {}) {
    this.#limit = options.limit ?? 200;
  }

  /** Records an invocation that starts now; answers its id. */
  start(input: {
    function: string;
    kind: InvocationView["kind"];
    trigger: string;
    requestId: string;
    event?: unknown;
    delivery?: Delivery;
  }): string {
    const { delivery } = input;
    const view: InvocationView = {
      id: randomUUID(),
      requestId: input.requestId,
      function: input.function,
      kind: input.kind,
      trigger: input.trigger,
      startedAt: new Date().toISOString(),
      status: "running",
      flxblRetries: 0,
      logs: [],
      event: delivery
        ? { headers: maskHeaders(delivery.headers), body: maskBody(delivery.body.toString("utf8")) }
        : { value: maskValue(input.event) },
    };
    const entry: Entry = { view, ...(delivery ? { delivery } : {}) };
    this.#entries.push(entry);
    this.#byRequest.set(view.requestId, entry);
    while (this.#entries.length > this.#limit) {
      const old = this.#entries.shift();
      if (old) this.#byRequest.delete(old.view.requestId);
    }
    this.#emit({ type: "invocation", data: view });
    return view.id;
  }

  /** Records how an invocation ended: a webhook's HTTP answer, a job's summary, or the error. */
  finish(id: string, ending: Ending): void {
    const entry = this.#entries.find((e) => e.view.id === id);
    if (!entry) return;
    const { view } = entry;
    view.durationMs = ending.durationMs;
    entry.endedAt = Date.now();
    if (ending.kind === "error") {
      view.status = view.kind === "webhook" ? 500 : "error";
      view.error = maskValue(ending.error);
    } else if (view.kind === "webhook") {
      const result = (ending.result ?? {}) as { statusCode?: number; headers?: Record<string, string>; body?: string };
      const structured = typeof result === "object" && "statusCode" in result;
      view.status = structured ? (result.statusCode ?? 200) : 200;
      view.answer = structured
        ? { statusCode: view.status, headers: maskHeaders(result.headers ?? {}), body: maskBody(result.body) }
        : { value: maskValue(ending.result) };
    } else {
      view.status = "ok";
      view.answer = { value: maskValue(ending.result) };
    }
    this.#emit({ type: "invocation", data: view });
  }

  /**
   * Adds a line a function printed to its invocation: the one its `function_request_id` names,
   * else the function's only running invocation (or the one that just ended).
   */
  log(fn: string, line: string): void {
    const parsed = parseLine(line);
    const entry =
      (parsed.requestId ? this.#byRequest.get(parsed.requestId) : undefined) ?? this.#onlyCurrent(fn, Date.now());
    if (!entry || entry.view.function !== fn) return;
    // Bounded: a job that logs per record would otherwise grow its entry (and each update sent).
    if (entry.view.logs.length >= maxLogLines) {
      entry.view.logsDropped = (entry.view.logsDropped ?? 0) + 1;
      return;
    }
    entry.view.logs.push(parsed.line);
    this.#emit({ type: "invocation", data: entry.view });
  }

  /**
   * Adds a FLXBL call of `fn` to its running invocation. With several invocations of one
   * function running at once, a call cannot be told apart by its function alone: it is left out.
   */
  flxblCall(fn: string, call: FlxblCall, requestId?: string): void {
    const entry = requestId !== undefined ? this.#byRequest.get(requestId) : this.#onlyCurrent(fn, Date.now());
    if (!entry) return;
    entry.view.flxblCalls ??= [];
    const calls = entry.view.flxblCalls;
    const retry = calls.some(
      (c) =>
        c.method === call.method &&
        c.path === call.path &&
        (c.status === "failed" || c.status === 429 || c.status >= 500),
    );
    calls.push({ ...maskValue(call), retry });
    if (retry) entry.view.flxblRetries++;
    this.#emit({ type: "invocation", data: entry.view });
  }

  #onlyCurrent(fn: string, now: number): Entry | undefined {
    const mine = this.#entries.filter(
      (e) => e.view.function === fn && (e.endedAt === undefined || now - e.endedAt < lateLineMs),
    );
    return mine.length === 1 ? mine[0] : undefined;
  }

  /** Marks `id` as a replay of `original`. */
  markReplay(id: string, original: string): void {
    const entry = this.#entries.find((e) => e.view.id === id);
    if (!entry) return;
    entry.view.replayOf = original;
    this.#emit({ type: "invocation", data: entry.view });
  }

  /** The invocations, newest first. */
  list(): InvocationView[] {
    return this.#entries.map((e) => e.view).reverse();
  }

  get(id: string): InvocationView | undefined {
    return this.#entries.find((e) => e.view.id === id)?.view;
  }

  /** The raw delivery of a webhook invocation (never sent to a page: it holds the signature). */
  delivery(id: string): Delivery | undefined {
    return this.#entries.find((e) => e.view.id === id)?.delivery;
  }

  /** The newest invocation of `fn` whose delivery carried exactly `body`, other than `except`. */
  findDelivery(fn: string, body: Buffer, except?: string): InvocationView | undefined {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const entry = this.#entries[i] as Entry;
      if (entry.view.function === fn && entry.view.id !== except && entry.delivery?.body.equals(body))
        return entry.view;
    }
    return undefined;
  }

  /** Tells every listener about a change that is not an invocation (a job's progress, a rotation). */
  publish(event: ConsoleEvent): void {
    this.#emit(event);
  }

  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: (event: ConsoleEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: ConsoleEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}

/** Powertools JSON lines become level, message and the other fields; other lines stay as text. Both redacted. */
function parseLine(text: string): { line: LogLine; requestId?: string } {
  const at = new Date().toISOString();
  const parsed = parsePowertoolsLine(text);
  if (!parsed) return { line: maskValue({ at, message: text }) };
  const { level, message, requestId, timestamp, fields } = parsed;
  return {
    requestId,
    line: maskValue({
      at: timestamp ?? at,
      level,
      message,
      ...(Object.keys(fields).length > 0 ? { fields } : {}),
    }),
  };
}
