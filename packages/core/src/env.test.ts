import { describe, expect, it } from "vitest";
import { readFunctionEnv } from "./env.js";

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
});
