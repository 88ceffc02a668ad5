import { describe, expect, it } from "vitest";
import { defineManifest, type JobSpec } from "./manifest.js";
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
    // EventBridge's documented examples (Cron expressions reference, "Examples").
    ["cron(0 10 * * ? *)", "2026-11-30T10:00:00Z", "2026-12-01T10:00:00.000Z"],
    ["cron(0 18 ? * MON-FRI *)", "2026-11-28T12:00:00Z", "2026-11-30T18:00:00.000Z"],
    ["cron(0 8 1 * ? *)", "2026-11-02T00:00:00Z", "2026-12-01T08:00:00.000Z"],
    ["cron(0/10 * ? * MON-FRI *)", "2026-11-27T23:55:00Z", "2026-11-30T00:00:00.000Z"],
    ["cron(0/5 8-17 ? * MON-FRI *)", "2026-11-30T17:56:00Z", "2026-12-01T08:00:00.000Z"],
    ["cron(0 9 ? * 2#1 *)", "2026-11-03T00:00:00Z", "2026-12-07T09:00:00.000Z"],
  ])("fires %s after %s at %s (UTC, Sunday = 1)", (expression, after, expected) => {
    expect(parseSchedule(expression).next(at(after)).toISOString()).toBe(expected);
  });

  // The wildcards the reference documents for the day fields: L and W in day-of-month, L and # in day-of-week.
  it.each([
    ["cron(0 0 L * ? *)", "2026-02-01T00:00:00Z", "2026-02-28T00:00:00.000Z", "L: the last day of the month"],
    ["cron(0 0 L * ? *)", "2028-02-01T00:00:00Z", "2028-02-29T00:00:00.000Z", "L in a leap year"],
    ["cron(0 0 LW * ? *)", "2026-05-01T00:00:00Z", "2026-05-29T00:00:00.000Z", "LW: May 31 2026 is a Sunday"],
    [
      "cron(0 0 3W * ? *)",
      "2026-10-01T00:00:00Z",
      "2026-10-02T00:00:00.000Z",
      "3W: Oct 3 2026 is a Saturday, so Friday the 2nd",
    ],
    [
      "cron(0 0 1W * ? *)",
      "2026-08-01T00:00:00Z",
      "2026-08-03T00:00:00.000Z",
      "1W: Aug 1 2026 is a Saturday, so Monday the 3rd",
    ],
    [
      "cron(0 0 15W * ? *)",
      "2026-11-01T00:00:00Z",
      "2026-11-16T00:00:00.000Z",
      "15W: Nov 15 2026 is a Sunday, so Monday the 16th",
    ],
    ["cron(0 18 ? * 6L *)", "2026-11-01T00:00:00Z", "2026-11-27T18:00:00.000Z", "6L: the last Friday"],
    ["cron(0 0 ? * L *)", "2026-11-30T00:00:00Z", "2026-12-05T00:00:00.000Z", "L: the last day of the week, Saturday"],
    ["cron(0 9 ? * 3#2 *)", "2026-11-01T00:00:00Z", "2026-11-10T09:00:00.000Z", "3#2: the second Tuesday"],
    ["cron(0 9 ? * MON#5 *)", "2026-11-01T00:00:00Z", "2026-11-30T09:00:00.000Z", "MON#5: a month with five Mondays"],
  ])("fires %s after %s at %s (%s)", (expression, after, expected) => {
    expect(parseSchedule(expression).next(at(after)).toISOString()).toBe(expected);
  });

  it("fires a rate schedule every interval from its anchor", () => {
    const schedule = parseSchedule("rate(15 minutes)", at("2026-01-01T00:00:00Z"));
    expect(schedule.next(at("2026-01-01T00:00:00Z")).toISOString()).toBe("2026-01-01T00:15:00.000Z");
    expect(schedule.next(at("2026-01-01T00:29:59Z")).toISOString()).toBe("2026-01-01T00:30:00.000Z");
  });

  it.each([
    ["rate(1 minutes)", /rate\(1 minute\)/],
    ["rate(5 minute)", /rate\(N minutes\)/],
    ["cron(0 6 * * *)", /6 fields/],
    ["cron(0 6 * * * *)", /exactly one of day-of-month and day-of-week/],
    ["cron(0 6 ? * ? *)", /exactly one of day-of-month and day-of-week/],
    ["cron(0 25 * * ? *)", /"25" is outside 0-23/],
    ["cron(0 6 32W * ? *)", /outside 1-31/],
    ["cron(0 6 L-2 * ? *)", /day-of-month takes L, LW or nW/],
    ["cron(0 9 ? * 3#1,6#3 *)", /# takes one day/],
    ["cron(0 9 ? * 3#6 *)", /# takes one day/],
    ["cron(0 9 ? * 8L *)", /outside 1-7/],
    ["cron(5-1 * * * ? *)", /runs backwards/],
    ["every day", /not an EventBridge rate\(\) or cron\(\) expression/],
  ])("refuses %s, saying what is wrong", (expression, message) => {
    expect(() => parseSchedule(expression)).toThrow(message);
  });

  it("is what defineManifest checks a job's schedule with: the same expressions pass and fail", () => {
    const job = (expression: string): JobSpec => ({
      name: "nightly",
      handler: "src/jobs/nightly.handler",
      trigger: { kind: "schedule", expression: expression as JobSpec["trigger"]["expression"] },
      scopes: ["entity:Order:read"],
      timeoutSeconds: 60,
    });
    expect(() => defineManifest([job("cron(0 18 ? * 6L *)")])).not.toThrow();
    expect(() => defineManifest([job("cron(0 9 ? * 3#1,6#3 *)")])).toThrow(/function "nightly": .*# takes one day/);
    expect(() => defineManifest([job("cron(0 25 * * ? *)")])).toThrow(/"25" is outside 0-23/);
  });
});
