import { describe, expect, it } from "vitest";
import { parseSchedule } from "./schedule.js";

const at = (iso: string) => new Date(iso);

describe("parseSchedule", () => {
  it.each([
    ["cron(0 6 * * ? *)", "2026-01-01T07:00:00Z", "2026-01-02T06:00:00.000Z"],
    ["cron(0 6 * * ? *)", "2026-01-01T05:59:59Z", "2026-01-01T06:00:00.000Z"],
    ["cron(0/15 * * * ? *)", "2026-01-01T10:07:00Z", "2026-01-01T10:15:00.000Z"],
    ["cron(0 9 ? * MON-FRI *)", "2026-11-27T10:00:00Z", "2026-11-30T09:00:00.000Z"],
    ["cron(30 12 1 JAN,JUL ? *)", "2026-02-01T00:00:00Z", "2026-07-01T12:30:00.000Z"],
    ["cron(0 0 ? * 1 *)", "2026-11-27T00:00:00Z", "2026-11-29T00:00:00.000Z"],
    ["cron(15 10 * * ? 2027)", "2026-06-01T00:00:00Z", "2027-01-01T10:15:00.000Z"],
  ])("fires %s after %s at %s (UTC, Sunday = 1)", (expression, after, expected) => {
    expect(parseSchedule(expression).next(at(after)).toISOString()).toBe(expected);
  });

  it("fires a rate schedule every interval from its anchor", () => {
    const schedule = parseSchedule("rate(15 minutes)", at("2026-01-01T00:00:00Z"));
    expect(schedule.next(at("2026-01-01T00:00:00Z")).toISOString()).toBe("2026-01-01T00:15:00.000Z");
    expect(schedule.next(at("2026-01-01T00:29:59Z")).toISOString()).toBe("2026-01-01T00:30:00.000Z");
  });

  it.each([
    ["rate(1 minutes)"],
    ["rate(5 minute)"],
    ["cron(0 6 * * *)"],
    ["cron(0 6 * * * *)"],
    ["cron(0 6 ? * ? *)"],
    ["cron(0 25 * * ? *)"],
    ["cron(0 6 L * ? *)"],
    ["every day"],
  ])("refuses %s with a clear error", (expression) => {
    expect(() => parseSchedule(expression)).toThrow(/"/);
  });
});
