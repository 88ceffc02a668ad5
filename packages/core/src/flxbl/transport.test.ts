import { afterEach, describe, expect, it, vi } from "vitest";
import { type Attempt, AttemptError, sendAttempt } from "./transport.js";

const base: Attempt = {
  url: "https://flxbl.test/api/v1/dynamic/Order",
  method: "GET",
  key: "k1",
  timeoutMs: 1000,
  write: false,
};

/** fetch's own failure: a TypeError "fetch failed" with the socket error as its cause. */
const socketFailure = (code: string) =>
  Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error(code), { code }) });

/** A fetch that never answers, rejecting like undici when its signal aborts. */
const hangingFetch = (): typeof fetch =>
  ((_url: string, init: RequestInit) =>
    new Promise((_, reject) => {
      init.signal?.addEventListener("abort", () => reject(init.signal?.reason), { once: true });
    })) as typeof fetch;

async function failure(promise: Promise<unknown>): Promise<AttemptError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AttemptError)) throw new Error(`expected an AttemptError, got ${String(err)}`);
  return err;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("sendAttempt", () => {
  it("sends the key, accept and (with a body) content-type, and refuses to follow redirects", async () => {
    // Prepare
    const fetchFn = vi.fn<typeof fetch>(async () => new Response('{"ok":true}', { status: 201 }));

    // Act
    const answer = await sendAttempt(fetchFn, { ...base, method: "POST", body: '{"a":1}', write: true });

    // Assess
    expect(answer.status).toBe(201);
    expect(answer.text).toBe('{"ok":true}');
    const [url, init] = fetchFn.mock.calls[0] ?? [];
    expect(url).toBe(base.url);
    expect(init).toMatchObject({
      method: "POST",
      body: '{"a":1}',
      redirect: "manual",
      headers: { authorization: "Bearer k1", accept: "application/json", "content-type": "application/json" },
    });
  });

  it("sends no content-type without a body", async () => {
    // Prepare
    const fetchFn = vi.fn<typeof fetch>(async () => new Response(null, { status: 204 }));

    // Act
    await sendAttempt(fetchFn, base);

    // Assess
    expect(fetchFn.mock.calls[0]?.[1]?.headers).toEqual({ authorization: "Bearer k1", accept: "application/json" });
  });

  it("returns any status with its headers, mapping none of them", async () => {
    // Prepare
    const fetchFn: typeof fetch = async () =>
      new Response("slow down", { status: 429, headers: { "retry-after": "2" } });

    // Act
    const answer = await sendAttempt(fetchFn, base);

    // Assess
    expect(answer).toMatchObject({ status: 429, text: "slow down" });
    expect(answer.headers.get("retry-after")).toBe("2");
  });

  it.each(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT"])(
    "says a write surely never arrived on %s, and does not report its outcome as unknown",
    async (code) => {
      // Prepare
      const onUnknownOutcome = vi.fn();
      const fetchFn: typeof fetch = async () => {
        throw socketFailure(code);
      };

      // Act
      const err = await failure(sendAttempt(fetchFn, { ...base, method: "POST", write: true, onUnknownOutcome }));

      // Assess
      expect(err).toMatchObject({ kind: "network", mayHaveArrived: false, detail: code });
      expect(onUnknownOutcome).not.toHaveBeenCalled();
    },
  );

  it("reports a write whose connection dropped as maybe arrived; a read's never", async () => {
    // Prepare
    const write = vi.fn();
    const read = vi.fn();
    const fetchFn: typeof fetch = async () => {
      throw socketFailure("ECONNRESET");
    };

    // Act
    const writeErr = await failure(
      sendAttempt(fetchFn, { ...base, method: "PATCH", write: true, onUnknownOutcome: write }),
    );
    const readErr = await failure(sendAttempt(fetchFn, { ...base, onUnknownOutcome: read }));

    // Assess
    expect(writeErr).toMatchObject({ kind: "network", mayHaveArrived: true, detail: "ECONNRESET" });
    expect(readErr).toMatchObject({ kind: "network", mayHaveArrived: true });
    expect(write).toHaveBeenCalledTimes(1);
    expect(read).not.toHaveBeenCalled();
  });

  it("times an attempt out, body included, and reports a write's outcome as unknown", async () => {
    // Prepare: the status line comes at once, the body never.
    const onUnknownOutcome = vi.fn();
    const fetchFn: typeof fetch = async (_url, init) =>
      new Response(
        new ReadableStream({
          start(controller) {
            init?.signal?.addEventListener("abort", () => controller.error(init.signal?.reason));
          },
        }),
      );

    // Act
    const err = await failure(
      sendAttempt(fetchFn, { ...base, method: "PUT", write: true, timeoutMs: 20, onUnknownOutcome }),
    );

    // Assess
    expect(err).toMatchObject({ kind: "timeout", mayHaveArrived: true });
    expect(onUnknownOutcome).toHaveBeenCalledTimes(1);
  });

  it("stops when the caller aborts, with the caller's reason as the cause", async () => {
    // Prepare
    const caller = new AbortController();
    const reason = new Error("lock lost");
    setTimeout(() => caller.abort(reason), 10);

    // Act
    const err = await failure(sendAttempt(hangingFetch(), { ...base, signal: caller.signal }));

    // Assess
    expect(err.kind).toBe("aborted");
    expect(err.cause).toBe(reason);
  });

  it("sends nothing when the caller aborted before the attempt", async () => {
    // Prepare
    const caller = new AbortController();
    caller.abort(new Error("lock lost"));
    const fetchFn = vi.fn<typeof fetch>();
    const onUnknownOutcome = vi.fn();

    // Act
    const err = await failure(sendAttempt(fetchFn, { ...base, write: true, signal: caller.signal, onUnknownOutcome }));

    // Assess
    expect(err).toMatchObject({ kind: "aborted", mayHaveArrived: false });
    expect(fetchFn).not.toHaveBeenCalled();
    expect(onUnknownOutcome).not.toHaveBeenCalled();
  });

  it.each([
    ["answered", async () => new Response("{}")],
    [
      "failed",
      async () => {
        throw socketFailure("ECONNRESET");
      },
    ],
  ] as const)("leaves no timer and no listener behind when the attempt %s", async (_, fetchFn) => {
    // Prepare
    vi.useFakeTimers();
    const caller = new AbortController();
    const add = vi.spyOn(caller.signal, "addEventListener");
    const remove = vi.spyOn(caller.signal, "removeEventListener");

    // Act
    await sendAttempt(fetchFn as typeof fetch, { ...base, signal: caller.signal }).catch(() => undefined);

    // Assess
    expect(vi.getTimerCount()).toBe(0);
    expect(add).toHaveBeenCalledTimes(1);
    expect(remove).toHaveBeenCalledWith("abort", add.mock.calls[0]?.[1]);
  });
});
