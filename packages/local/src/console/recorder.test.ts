import { describe, expect, it } from "vitest";
import { type ConsoleEvent, InvocationRecorder, maxLogLines } from "./recorder.js";

const job = (recorder: InvocationRecorder, requestId: string, fn = "low-stock-alerts") =>
  recorder.start({ function: fn, kind: "job", trigger: "scheduled", requestId, event: { source: "aws.events" } });
const powertools = (requestId: string, message: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ level: "INFO", message, function_request_id: requestId, service: "x", ...extra });

describe("InvocationRecorder", () => {
  it("keeps only the last `limit` invocations, newest first", () => {
    const recorder = new InvocationRecorder({ limit: 3 });

    for (const n of [1, 2, 3, 4, 5]) job(recorder, `r-${n}`);

    expect(recorder.list().map((v) => v.requestId)).toEqual(["r-5", "r-4", "r-3"]);
  });

  it("keeps at most maxLogLines log lines per invocation and counts the rest", () => {
    const recorder = new InvocationRecorder();
    const id = job(recorder, "r-many");

    for (let i = 0; i < maxLogLines + 10; i++) recorder.log("low-stock-alerts", powertools("r-many", `record ${i}`));

    expect(recorder.get(id)?.logs).toHaveLength(maxLogLines);
    expect(recorder.get(id)?.logsDropped).toBe(10);
  });

  it("gives a FLXBL call to the invocation its process names, even with others of the function running", () => {
    const recorder = new InvocationRecorder();
    const first = job(recorder, "r-1");
    const second = job(recorder, "r-2");
    const call = { method: "GET", path: "/dynamic/Product", status: 200, durationMs: 3, at: new Date().toISOString() };

    recorder.flxblCall("low-stock-alerts", call, "r-2");
    recorder.flxblCall("low-stock-alerts", call); // no request id with two running: left out

    expect(recorder.get(first)?.flxblCalls).toBeUndefined();
    expect(recorder.get(second)?.flxblCalls).toEqual([{ ...call, retry: false }]);
  });

  it("gives a log line to the invocation its function_request_id names, even with others running", () => {
    const recorder = new InvocationRecorder();
    const first = job(recorder, "r-1");
    const second = job(recorder, "r-2");

    recorder.log("low-stock-alerts", powertools("r-1", "job run finished", { scanned: 3 }));

    expect(recorder.get(first)?.logs).toEqual([
      { at: expect.any(String), level: "INFO", message: "job run finished", fields: { scanned: 3 } },
    ]);
    expect(recorder.get(second)?.logs).toEqual([]);
  });

  it("gives a plain line to the function's only running invocation, and to none when two run", () => {
    const recorder = new InvocationRecorder();
    const first = job(recorder, "r-1");
    recorder.log("low-stock-alerts", "plain line one");
    job(recorder, "r-2");

    recorder.log("low-stock-alerts", "plain line two");

    expect(recorder.get(first)?.logs.map((l) => l.message)).toEqual(["plain line one"]);
    expect(recorder.list().flatMap((v) => v.logs.map((l) => l.message))).not.toContain("plain line two");
  });

  it("takes a line that arrives just after its invocation ended (stdout and IPC are separate pipes)", () => {
    const recorder = new InvocationRecorder();
    const id = job(recorder, "r-1");
    recorder.finish(id, { kind: "result", result: { scanned: 1 }, durationMs: 5 });

    recorder.log("low-stock-alerts", powertools("r-1", "late line"));

    expect(recorder.get(id)?.logs.map((l) => l.message)).toEqual(["late line"]);
  });

  it("adds each FLXBL call to the function's running invocation and counts a repeat after a 429 or 5xx as a retry", () => {
    const recorder = new InvocationRecorder();
    const id = job(recorder, "r-1");
    const call = (path: string, status: number | "failed") => ({ method: "GET", path, status, durationMs: 2, at: "t" });

    recorder.flxblCall("low-stock-alerts", call("/dynamic/Product", 429));
    recorder.flxblCall("low-stock-alerts", call("/dynamic/Product", 200));
    recorder.flxblCall("low-stock-alerts", call("/dynamic/StockAlert", 200));
    recorder.flxblCall("low-stock-alerts", call("/dynamic/StockAlert", 200));

    expect(recorder.get(id)?.flxblCalls?.map((c) => c.retry)).toEqual([false, true, false, false]);
    expect(recorder.get(id)?.flxblRetries).toBe(1);
  });

  it("leaves out a FLXBL call it cannot tell apart: two invocations of its function running", () => {
    const recorder = new InvocationRecorder();
    job(recorder, "r-1");
    job(recorder, "r-2");

    recorder.flxblCall("low-stock-alerts", { method: "GET", path: "/x", status: 200, durationMs: 1, at: "t" });

    expect(recorder.list().map((v) => v.flxblCalls)).toEqual([undefined, undefined]);
  });

  it("redacts secrets in log lines and in job summaries", () => {
    const recorder = new InvocationRecorder();
    const id = job(recorder, "r-1");
    const key = "flxbl_AbCd1234_0123456789abcdef";

    recorder.log("low-stock-alerts", `refused key ${key}`);
    recorder.finish(id, { kind: "result", result: { note: `used ${key}`, apiKey: key }, durationMs: 3 });

    expect(JSON.stringify(recorder.get(id))).not.toContain(key);
  });

  it("answers a webhook's HTTP status, and 500 when it failed", () => {
    const recorder = new InvocationRecorder();
    const delivery = { method: "POST", path: "/hook", query: "", headers: {}, body: Buffer.from("{}") };
    const ok = recorder.start({ function: "w", kind: "webhook", trigger: "POST /hook", requestId: "a", delivery });
    const failed = recorder.start({ function: "w", kind: "webhook", trigger: "POST /hook", requestId: "b", delivery });

    recorder.finish(ok, { kind: "result", result: { statusCode: 409, body: "{}" }, durationMs: 1 });
    recorder.finish(failed, { kind: "error", error: { name: "Error", message: "boom" }, durationMs: 1 });

    expect([recorder.get(ok)?.status, recorder.get(failed)?.status]).toEqual([409, 500]);
  });

  it("tells listeners of every change until they unsubscribe", () => {
    const recorder = new InvocationRecorder();
    const heard: ConsoleEvent["type"][] = [];
    const unsubscribe = recorder.subscribe((event) => heard.push(event.type));
    const id = job(recorder, "r-1");
    recorder.log("low-stock-alerts", powertools("r-1", "line"));
    recorder.finish(id, { kind: "result", result: {}, durationMs: 1 });
    recorder.publish({ type: "job", data: {} });
    unsubscribe();

    job(recorder, "r-2");

    expect(heard).toEqual(["invocation", "invocation", "invocation", "job"]);
  });
});
