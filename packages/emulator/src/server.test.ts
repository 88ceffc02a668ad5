import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "./index.js";
import { as, product, startAppEmulator } from "./test-helpers.js";

describe("emulator smoke", () => {
  let flxbl: Emulator;
  beforeAll(async () => {
    flxbl = await startAppEmulator();
  });
  afterAll(() => flxbl.close());

  it("creates a record and reads it back by id", async () => {
    const admin = as(flxbl, flxbl.adminKey);
    const created = await admin.post("/dynamic/Product", product());
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^node_[0-9a-f-]{36}$/);
    const read = await admin.get(`/dynamic/Product/${created.body.id}`);
    expect(read.body).toEqual(created.body);
  });
});
