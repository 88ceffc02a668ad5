import { inspect } from "node:util";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { sanitizeError } from "./sanitize-error.js";
import { fakeFlxblKey, secretShapes } from "./test-helpers.js";

const key = fakeFlxblKey;
const signingSecret = "whsec_bm90YXJlYWxzaWduaW5nc2VjcmV0Zm9ydGVzdHM=";

/** Shaped like core's JobFailedError: an own enumerable `name` and a `summary` of per-record failures. */
class JobFailedLikeError extends Error {
  override name = "JobFailedLikeError";
  constructor(readonly summary: { job: string; failed: number; failures: Array<{ id: string; error: string }> }) {
    super(`Job ${summary.job} finished with ${summary.failed} failed record(s)`);
  }
}

/** Everything the Lambda runtime would print of `value`: util.inspect shows stack, cause, errors and own properties. */
const printed = (value: unknown) => inspect(value, { depth: 10 });

describe("sanitizeError", () => {
  it.each(secretShapes)("redacts $shape in the message and the stack", ({ text, secrets }) => {
    const error = new Error(`failed: ${text}`);

    const out = sanitizeError(error) as Error;

    for (const secret of secrets) {
      expect(out.message).not.toContain(secret);
      expect(out.stack).not.toContain(secret);
    }
  });

  it("redacts in place, keeping the prototype, the name and the rest of the stack", () => {
    const error = new TypeError(`refused ${key}`);
    const frames = error.stack?.split("\n").slice(1);

    const out = sanitizeError(error);

    expect(out).toBe(error);
    expect(out).toBeInstanceOf(TypeError);
    expect(error.name).toBe("TypeError");
    expect(error.message).toBe("refused [REDACTED flxbl key]");
    expect(error.stack?.split("\n")).toEqual(["TypeError: refused [REDACTED flxbl key]", ...(frames ?? [])]);
  });

  it("redacts the whole cause chain, including non-Error causes", () => {
    const root = new Error(`root ${signingSecret}`, { cause: `token=notarealcausetoken` });
    const middle = new Error("middle", { cause: root });
    const top = new Error(`top ${key}`, { cause: middle });

    sanitizeError(top);

    expect(top.cause).toBe(middle);
    expect(middle.cause).toBe(root);
    expect(root.message).toBe("root [REDACTED signing secret]");
    expect(root.cause).toBe("token=[REDACTED]");
    expect(printed(top)).not.toMatch(/flxbl_TEST|whsec_|notarealcausetoken/);
  });

  it("terminates on a cause chain that loops", () => {
    const a = new Error(`a ${key}`);
    const b = new Error(`b ${signingSecret}`, { cause: a });
    a.cause = b;

    const out = sanitizeError(a);

    expect(out).toBe(a);
    expect(a.cause).toBe(b);
    expect(b.cause).toBe(a);
    expect(printed(a)).not.toMatch(/flxbl_TEST|whsec_/);
  });

  it("redacts the errors of an AggregateError", () => {
    const error = new AggregateError([new Error(`one ${key}`), `two ${signingSecret}`], "two failed");

    sanitizeError(error);

    expect(error.errors).toHaveLength(2);
    expect(error.errors[0]).toBeInstanceOf(Error);
    expect((error.errors[0] as Error).message).toBe("one [REDACTED flxbl key]");
    expect(error.errors[1]).toBe("two [REDACTED signing secret]");
  });

  it("redacts a job failure summary and keeps its data", () => {
    const error = new JobFailedLikeError({
      job: "expire-stale-orders",
      failed: 2,
      failures: [
        { id: "o_1", error: `FLXBL refused ${key}` },
        { id: "o_2", error: "Request failed with status 429" },
      ],
    });

    const out = sanitizeError(error);

    expect(out).toBe(error);
    expect(out).toBeInstanceOf(JobFailedLikeError);
    expect(error.name).toBe("JobFailedLikeError");
    expect(error.summary).toEqual({
      job: "expire-stale-orders",
      failed: 2,
      failures: [
        { id: "o_1", error: "FLXBL refused [REDACTED flxbl key]" },
        { id: "o_2", error: "Request failed with status 429" },
      ],
    });
    expect(printed(error)).not.toContain(key);
  });

  it("keeps a property that holds no secret as the same object", () => {
    const details = { at: new Date(0), count: 2 };
    const error = Object.assign(new Error("failed"), { details });

    sanitizeError(error);

    expect(error.details).toBe(details);
  });

  it("hides properties with a secret name", () => {
    const error = Object.assign(new Error("failed"), { apiKey: "notarealapikey", headers: { cookie: "c=1" } });

    sanitizeError(error);

    expect(error.apiKey).toBe("[REDACTED]");
    expect(error.headers).toEqual({ cookie: "[REDACTED]" });
  });

  it("returns a plain Error copy of a frozen error", () => {
    const cause = new Error(`cause ${signingSecret}`);
    const error = Object.freeze(Object.assign(new RangeError(`refused ${key}`, { cause }), { status: 401 }));

    const out = sanitizeError(error) as Error & { status?: number };

    expect(out).not.toBe(error);
    expect(out).toBeInstanceOf(Error);
    expect(out.name).toBe("RangeError");
    expect(out.message).toBe("refused [REDACTED flxbl key]");
    expect(out.stack).toMatch(/^RangeError: refused \[REDACTED flxbl key\]\n\s+at /);
    expect(out.cause).toBe(cause);
    expect(cause.message).toBe("cause [REDACTED signing secret]");
    expect(out.status).toBe(401);
    expect(printed(out)).not.toMatch(/flxbl_TEST|whsec_/);
  });

  it("points a loop back at a frozen error to its copy", () => {
    const inner = new Error("inner");
    const outer = Object.freeze(new Error(`outer ${key}`, { cause: inner }));
    inner.cause = outer;

    const out = sanitizeError(outer) as Error;

    expect(inner.cause).toBe(out);
    expect(printed(out)).not.toContain(key);
  });

  it("redacts a thrown string", () => {
    expect(sanitizeError(`boom ${key}`)).toBe("boom [REDACTED flxbl key]");
  });

  it("redacts a thrown object", () => {
    expect(sanitizeError({ message: `boom ${key}`, token: "notarealtoken" })).toEqual({
      message: "boom [REDACTED flxbl key]",
      token: "[REDACTED]",
    });
  });

  it.each([undefined, null, 42, true])("returns %s unchanged", (value) => {
    expect(sanitizeError(value)).toBe(value);
  });

  it("keeps going past a property whose getter throws", () => {
    const error = new Error(`failed ${key}`);
    Object.defineProperty(error, "details", {
      enumerable: true,
      get() {
        throw new Error("getter exploded");
      },
    });

    const out = sanitizeError(error) as Error;

    expect(out.message).toBe("failed [REDACTED flxbl key]");
    expect(out.stack).toMatch(/^Error: failed \[REDACTED flxbl key\]\n/);
  });

  it("never throws, even when the error cannot be read at all", () => {
    const error = new Proxy(new TypeError(`failed ${key}`), {
      ownKeys() {
        throw new Error("ownKeys exploded");
      },
    });

    const out = sanitizeError(error) as Error;

    expect(out).toBeInstanceOf(Error);
    expect(out.name).toBe("TypeError");
    expect(printed(out)).not.toContain(key);
  });

  it("redacts an error from another realm", () => {
    const error = runInNewContext(`new Error("failed ${key}")`) as Error;

    const out = sanitizeError(error) as Error;

    expect(out).toBe(error);
    expect(out.message).toBe("failed [REDACTED flxbl key]");
  });
});
