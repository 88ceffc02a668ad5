import { describe, expect, it } from "vitest";
import { flxblUrlProblem, readFunctionEnv } from "./env.js";

describe("readFunctionEnv", () => {
  it("reads the variables the stacks set", () => {
    expect(
      readFunctionEnv({
        FLXBL_URL: "https://api.flxbl.dev/api/v1",
        FLXBL_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:1:secret:x",
        STATE_TABLE_NAME: "state",
        FLXBL_SECRET_TTL_SECONDS: "120",
        UNRELATED: "ignored",
      }),
    ).toEqual({
      FLXBL_URL: "https://api.flxbl.dev/api/v1",
      FLXBL_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:1:secret:x",
      STATE_TABLE_NAME: "state",
      FLXBL_SECRET_TTL_SECONDS: 120,
    });
  });

  it("names every missing or invalid variable", () => {
    expect(() => readFunctionEnv({ FLXBL_URL: "not a url" })).toThrow(/FLXBL_URL.*FLXBL_SECRET_ARN/);
  });

  it.each([
    ["an http: URL on a public host", "http://api.flxbl.dev/api/v1"],
    ["credentials in the URL", "https://user:pass@api.flxbl.dev/api/v1"],
    ["no URL at all", "api.flxbl.dev"],
  ])("refuses FLXBL_URL with %s: the key would travel in clear or somewhere unexpected", (_, url) => {
    expect(() => readFunctionEnv({ FLXBL_URL: url, FLXBL_SECRET_ARN: "s" })).toThrow(/FLXBL_URL/);
  });

  it.each(["https://api.flxbl.dev/api/v1", "http://127.0.0.1:4010/api/v1", "http://localhost:4010/api/v1"])(
    "accepts FLXBL_URL %s (http: only on loopback, for local runs)",
    (url) => {
      expect(readFunctionEnv({ FLXBL_URL: url, FLXBL_SECRET_ARN: "s" }).FLXBL_URL).toBe(url);
    },
  );

  it("treats an empty variable as unset, so its default applies", () => {
    expect(
      readFunctionEnv({
        FLXBL_URL: "https://api.flxbl.dev/api/v1",
        FLXBL_SECRET_ARN: "s",
        FLXBL_SECRET_TTL_SECONDS: "",
      }),
    ).not.toHaveProperty("FLXBL_SECRET_TTL_SECONDS");
  });
});

describe("flxblUrlProblem", () => {
  it("refuses http: even on loopback where the caller deploys to AWS", () => {
    expect(flxblUrlProblem("http://127.0.0.1:4010/api/v1", { allowLoopbackHttp: false })).toMatch(/must be https:/);
    expect(flxblUrlProblem("https://api.flxbl.dev/api/v1", { allowLoopbackHttp: false })).toBeUndefined();
  });
});
