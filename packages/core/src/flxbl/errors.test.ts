import { describe, expect, it } from "vitest";
import {
  errorFor,
  FlxblAuthError,
  FlxblConflictError,
  FlxblError,
  FlxblForbiddenError,
  FlxblNetworkError,
  FlxblNotFoundError,
  FlxblRateLimitError,
  FlxblResponseError,
  FlxblScopeError,
  FlxblServerError,
  FlxblTimeoutError,
  FlxblValidationError,
  parseRetryAfter,
  readErrorBody,
  retryAdvice,
} from "./errors.js";

const site = { method: "GET", path: "/dynamic/Order/1" };
const now = Date.parse("2025-01-01T00:00:00Z");

describe("retryAdvice", () => {
  it.each<[string, unknown, ReturnType<typeof retryAdvice>]>([
    [
      "a 429 with Retry-After",
      new FlxblRateLimitError(site, "x", { status: 429, retryAfterMs: 2500 }),
      { retryable: true, afterMs: 2500 },
    ],
    ["a 429 without Retry-After", new FlxblRateLimitError(site, "x", { status: 429 }), { retryable: true }],
    [
      "a 503 with Retry-After",
      new FlxblServerError(site, "x", { status: 503, retryAfterMs: 5000 }),
      { retryable: true, afterMs: 5000 },
    ],
    ["a 500 without Retry-After", new FlxblServerError(site, "x", { status: 500 }), { retryable: true }],
    ["a refused connection", new FlxblNetworkError(site, "x", { outcomeUnknown: false }), { retryable: true }],
    ["a reset connection", new FlxblNetworkError(site, "x", { outcomeUnknown: true }), { retryable: true }],
    [
      "a retry that would pass the deadline",
      new FlxblTimeoutError(site, "x", { retryAfterMs: 1000 }),
      { retryable: true, afterMs: 1000 },
    ],
    ["an attempt with no answer", new FlxblTimeoutError(site, "x", { outcomeUnknown: true }), { retryable: true }],
    ["a 401", new FlxblAuthError(site, "x", { status: 401 }), { retryable: false }],
    ["a 403", new FlxblForbiddenError(site, "x", { status: 403 }), { retryable: false }],
    ["a 404", new FlxblNotFoundError(site, "x", { status: 404 }), { retryable: false }],
    ["a 409", new FlxblConflictError(site, "x", { status: 409 }), { retryable: false }],
    ["a 422", new FlxblValidationError(site, "x", { status: 422 }), { retryable: false }],
    ["a redirect", new FlxblResponseError(site, "x", { status: 302 }), { retryable: false }],
    ["a call outside the scopes", new FlxblScopeError(site, "entity:Order:read", []), { retryable: false }],
    ["the base class", new FlxblError(site, "x"), { retryable: false }],
    ["an error that is not FLXBL's", new TypeError("boom"), { retryable: false }],
    ["something not an error", { retryAfterMs: 100 }, { retryable: false }],
    ["nothing", undefined, { retryable: false }],
  ])("answers %s", (_, err, expected) => {
    expect(retryAdvice(err)).toStrictEqual(expected);
  });

  it("agrees with `transient` on every FLXBL error", () => {
    // Prepare
    const errors: FlxblError[] = [
      new FlxblRateLimitError(site, "x", { status: 429 }),
      new FlxblServerError(site, "x", { status: 502 }),
      new FlxblNetworkError(site, "x", { outcomeUnknown: true }),
      new FlxblTimeoutError(site, "x"),
      new FlxblAuthError(site, "x", { status: 401 }),
      new FlxblValidationError(site, "x", { status: 400 }),
    ];

    // Act, Assess
    for (const err of errors) expect(retryAdvice(err).retryable).toBe(err.transient);
  });
});

describe("parseRetryAfter", () => {
  it.each<[string, string | undefined, number | undefined]>([
    ["delta-seconds", "2", 2000],
    ["fractional seconds", "1.5", 1500],
    ["zero", "0", 0],
    ["an HTTP date", "Wed, 01 Jan 2025 00:00:03 GMT", 3000],
    ["an HTTP date in the past", "Tue, 31 Dec 2024 23:59:00 GMT", 0],
    ["garbage", "soon", undefined],
    ["blank", "  ", undefined],
    ["no header", undefined, undefined],
  ])("reads %s", (_, value, expected) => {
    // Prepare
    const headers = new Headers(value === undefined ? {} : { "retry-after": value });

    // Act, Assess
    expect(parseRetryAfter(headers, now)).toBe(expected);
  });
});

describe("readErrorBody", () => {
  it("reads a NestJS validation message array and field errors", () => {
    expect(
      readErrorBody(
        JSON.stringify({
          message: ["total must be a number", "currency is required"],
          errors: [{ field: "total" }, 1],
        }),
      ),
    ).toEqual({ message: "total must be a number; currency is required", fieldErrors: [{ field: "total" }] });
  });

  it("falls back to `error` when there is no message", () => {
    expect(readErrorBody('{"error":"Too Many Requests"}').message).toBe("Too Many Requests");
  });

  it("keeps the start of a body that is not JSON", () => {
    expect(readErrorBody(`<html>${"x".repeat(500)}</html>`).message).toHaveLength(200);
    expect(readErrorBody("").message).toBeUndefined();
  });
});

describe("errorFor", () => {
  const answer = (status: number, headers: Record<string, string> = {}, text = "") => ({
    status,
    headers: new Headers(headers),
    text,
  });

  it.each<[number, abstract new (...args: never[]) => FlxblError]>([
    [400, FlxblValidationError],
    [401, FlxblAuthError],
    [403, FlxblForbiddenError],
    [404, FlxblNotFoundError],
    [405, FlxblResponseError],
    [409, FlxblConflictError],
    [422, FlxblValidationError],
    [429, FlxblRateLimitError],
    [500, FlxblServerError],
    [503, FlxblServerError],
  ])("maps %i to its error", (status, type) => {
    // Act
    const err = errorFor(site, answer(status, {}, '{"message":"nope"}'), now);

    // Assess
    expect(err).toBeInstanceOf(type);
    expect(err).toMatchObject({ status, flxblMessage: "nope", method: "GET", path: "/dynamic/Order/1" });
  });

  it("carries Retry-After on a 429 and a 503", () => {
    expect(errorFor(site, answer(429, { "retry-after": "3" }), now)).toMatchObject({ retryAfterMs: 3000 });
    expect(errorFor(site, answer(503, { "retry-after": "1" }), now)).toMatchObject({ retryAfterMs: 1000 });
  });

  it("carries field errors on a 422", () => {
    // Act
    const err = errorFor(site, answer(422, {}, '{"message":"invalid","errors":[{"field":"total"}]}'), now);

    // Assess
    expect(err).toBeInstanceOf(FlxblValidationError);
    expect((err as FlxblValidationError).fieldErrors).toEqual([{ field: "total" }]);
  });
});
