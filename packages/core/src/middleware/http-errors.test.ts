import {
  IdempotencyAlreadyInProgressError,
  IdempotencyItemNotFoundError,
  IdempotencyPersistenceLayerError,
} from "@aws-lambda-powertools/idempotency";
import { describe, expect, it } from "vitest";
import {
  FlxblAuthError,
  FlxblNetworkError,
  FlxblRateLimitError,
  FlxblScopeError,
  FlxblServerError,
  FlxblTimeoutError,
  FlxblValidationError,
} from "../flxbl/errors.js";
import { SecretNotFoundError, SecretUnavailableError } from "../keys/secret-loader.js";
import { ClientError, RetryLaterError } from "./errors.js";
import { classifyError } from "./http-errors.js";

const site = { method: "GET", path: "/dynamic/Order/1" };

describe("classifyError", () => {
  it.each([
    ["a ClientError", new ClientError(413, "too big"), { kind: "client", status: 413, message: "too big" }],
    ["a RetryLaterError", new RetryLaterError("in progress", 2), { kind: "retry", retryAfterSeconds: 2 }],
    [
      "a 429 with Retry-After",
      new FlxblRateLimitError(site, "x", { status: 429, retryAfterMs: 2500 }),
      { kind: "retry", retryAfterSeconds: 3 },
    ],
    [
      "a 429 without Retry-After",
      new FlxblRateLimitError(site, "x", { status: 429 }),
      { kind: "retry", retryAfterSeconds: 5 },
    ],
    ["a 503", new FlxblServerError(site, "x", { status: 503 }), { kind: "retry", retryAfterSeconds: 5 }],
    [
      "a network failure",
      new FlxblNetworkError(site, "x", { outcomeUnknown: false }),
      { kind: "retry", retryAfterSeconds: 5 },
    ],
    ["a deadline", new FlxblTimeoutError(site, "x", { retryAfterMs: 1000 }), { kind: "retry", retryAfterSeconds: 1 }],
    ["Secrets Manager throttling", new SecretUnavailableError("s", "x"), { kind: "retry", retryAfterSeconds: 5 }],
    [
      "a duplicate while the first delivery is in progress",
      new IdempotencyAlreadyInProgressError("in progress"),
      { kind: "retry", retryAfterSeconds: 1 },
    ],
    [
      "a duplicate whose in-progress record was released before it could be read",
      new IdempotencyItemNotFoundError(),
      { kind: "retry", retryAfterSeconds: 1 },
    ],
    [
      "a record's lock busy when taken with the idempotency record",
      new IdempotencyPersistenceLayerError("x", { cause: new RetryLaterError("order#1 is busy", 1) }),
      { kind: "retry", retryAfterSeconds: 1 },
    ],
    [
      "the idempotency record's write failing",
      new IdempotencyPersistenceLayerError("x", { cause: new Error("socket hang up") }),
      { kind: "retry", retryAfterSeconds: 5 },
    ],
    ["a refused key", new FlxblAuthError(site, "x", { status: 401 }), { kind: "internal" }],
    ["a call outside the scopes", new FlxblScopeError(site, "entity:Order:update", []), { kind: "internal" }],
    ["FLXBL refusing our payload", new FlxblValidationError(site, "x", { status: 422 }), { kind: "internal" }],
    ["a missing secret", new SecretNotFoundError("s", "x"), { kind: "internal" }],
    ["a plain bug", new TypeError("undefined is not a function"), { kind: "internal" }],
  ])("answers %s as its rule says", (_, err, expected) => {
    expect(classifyError(err)).toMatchObject(expected);
  });
});
