import type { Method } from "./send.js";

/**
 * One attempt of a FLXBL call, fully resolved: the URL with its query, the key of this attempt,
 * the JSON body already serialised, and how long the attempt may take.
 *
 * @example
 * ```ts
 * const attempt: Attempt = {
 *   url: "https://api.flxbl.dev/api/v1/dynamic/Order/ord_1", method: "PATCH", key: "flxbl_...",
 *   body: JSON.stringify({ status: "paid" }), timeoutMs: 10_000, signal: AbortSignal.timeout(30_000), write: true,
 * };
 * ```
 */
export interface Attempt {
  url: string;
  method: Method;
  /** Sent as `authorization: Bearer <key>`. */
  key: string;
  /** Serialised JSON; `content-type: application/json` is sent only with a body. */
  body?: string | undefined;
  /** Longest wait for the answer, body included. */
  timeoutMs: number;
  /** The caller's abort signal (the call's and the client's, combined). */
  signal?: AbortSignal | undefined;
  /** Whether the call changes data: only then is {@link Attempt.onUnknownOutcome} told. */
  write: boolean;
  /** Told when a write's attempt may have reached FLXBL and got no answer. */
  onUnknownOutcome?: (() => void) | undefined;
}

/**
 * FLXBL's answer to one attempt, body read whole. Any status: mapping it is the client's job.
 *
 * @example
 * ```ts
 * const answer: Answer = await sendAttempt(fetch, {
 *   url: `${env.FLXBL_URL}/dynamic/Order/ord_1`, method: "DELETE", key: "flxbl_...", timeoutMs: 10_000, write: true,
 * });
 * if (answer.status === 204) return undefined;
 * ```
 */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/**
 * An attempt that got no answer. `kind` says why: the caller's signal fired (`aborted`; `cause`
 * is the signal's reason when it is an Error, e.g. a lost lock), `timeoutMs` passed (`timeout`),
 * or the connection failed (`network`). `mayHaveArrived` is false only when the connection surely
 * never opened (refused, DNS), so even a create may be sent again.
 *
 * @example
 * ```ts
 * const attempt: Attempt = { url: `${env.FLXBL_URL}/dynamic/Order`, method: "POST", key: "flxbl_...", body: "{}", timeoutMs: 10_000, write: true };
 * await sendAttempt(fetch, attempt).catch((err) => {
 *   if (err instanceof AttemptError && err.kind === "network" && !err.mayHaveArrived) return sendAttempt(fetch, attempt);
 *   throw err;
 * });
 * ```
 */
export class AttemptError extends Error {
  override name = "AttemptError";
  constructor(
    readonly kind: "aborted" | "timeout" | "network",
    readonly mayHaveArrived: boolean,
    /** What failed, for messages: the socket error's code (`ECONNRESET`) or message. */
    readonly detail: string,
    cause: unknown,
  ) {
    super(`FLXBL attempt failed (${kind}: ${detail})`, { cause });
  }
}

/** Socket error codes that mean the request never left this machine, or never met a server. */
const notConnected = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT"]);

/** undici puts the socket's error on `cause`; fetch's own TypeError just says "fetch failed". */
const socketError = (err: unknown) => (err as { cause?: { code?: string; message?: string } })?.cause;

function describe(err: unknown): string {
  const cause = socketError(err);
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/**
 * Sends one attempt and reads its answer, or throws {@link AttemptError}. Redirects are not
 * followed (`redirect: "manual"`): following one would send the key wherever it points. Each
 * attempt has its own AbortController, its timer cleared and its listener on the caller's
 * signal removed when it ends: `AbortSignal.timeout`/`any` would leave a timer and a retained
 * signal behind per call in a warm container.
 *
 * @example
 * ```ts
 * const { status, text } = await sendAttempt(globalThis.fetch, {
 *   url: `${env.FLXBL_URL}/dynamic/Order/${orderId}`, method: "GET", key: "flxbl_...", timeoutMs: 10_000, write: false,
 * });
 * ```
 */
export async function sendAttempt(fetchFn: typeof fetch, attempt: Attempt): Promise<Answer> {
  const caller = attempt.signal;
  // Aborted while the key was being read: nothing went out, so nothing may land.
  if (caller?.aborted)
    throw new AttemptError("aborted", false, "aborted before sending", abortCause(caller, undefined));
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException("FLXBL call timed out", "TimeoutError"));
  }, attempt.timeoutMs);
  const onCallerAbort = () => controller.abort(caller?.reason);
  caller?.addEventListener("abort", onCallerAbort, { once: true });
  try {
    const res = await fetchFn(attempt.url, {
      method: attempt.method,
      headers: {
        authorization: `Bearer ${attempt.key}`,
        accept: "application/json",
        ...(attempt.body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: attempt.body,
      signal: controller.signal,
      redirect: "manual",
    });
    // Read inside the timer: a body that stalls is as unanswered as a missing status line.
    return { status: res.status, headers: res.headers, text: await res.text() };
  } catch (err) {
    const mayHaveArrived = !notConnected.has(socketError(err)?.code ?? "");
    // A write that may have been sent can still land after this; a read changes nothing.
    if (mayHaveArrived && attempt.write) attempt.onUnknownOutcome?.();
    // The caller's reason (a lost lock, middy's timeout) says more than fetch's AbortError.
    if (caller?.aborted) throw new AttemptError("aborted", mayHaveArrived, "aborted", abortCause(caller, err));
    if (timedOut) throw new AttemptError("timeout", mayHaveArrived, "timed out", err);
    throw new AttemptError("network", mayHaveArrived, describe(err), err);
  } finally {
    clearTimeout(timer);
    caller?.removeEventListener("abort", onCallerAbort);
  }
}

function abortCause(caller: AbortSignal, err: unknown): unknown {
  return caller.reason instanceof Error ? caller.reason : err;
}
