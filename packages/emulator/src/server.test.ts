import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

describe("default order", () => {
  it("lists records created in the same millisecond in creation order, before and after a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flxbl-order-"));
    const createdAt = "2026-01-01T00:00:00.000Z";
    // Ids chosen so that sorting by id would reverse creation order.
    const ids = ["node_e", "node_d", "node_c", "node_b", "node_a"];
    const seed = { records: { Product: ids.map((id, i) => ({ id, createdAt, ...product({ sku: `S-${i}` }) })) } };
    const db = join(dir, "order.db");
    try {
      const first = await startAppEmulator({ db, seed });
      const before = (await as(first, first.adminKey).get("/dynamic/Product")).body.data.map(
        (r: { id: string }) => r.id,
      );
      await first.close();
      const second = await startAppEmulator({ db });
      const after = (await as(second, second.adminKey).get("/dynamic/Product")).body.data.map(
        (r: { id: string }) => r.id,
      );
      await second.close();

      expect(before).toEqual(ids);
      expect(after).toEqual(ids);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
