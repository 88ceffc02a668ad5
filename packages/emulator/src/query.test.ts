import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "./index.js";
import { as, product, startAppEmulator } from "./test-helpers.js";

interface Rec {
  id: string;
  createdAt: string;
  updatedAt: string;
  sku: string;
  name: string;
  price: number;
  stock: number;
  active: boolean;
  stockVersion?: number | null;
  stockUpdatedAt?: string;
  tags?: string[];
}

const names = ["Red Widget", "blue gadget", "GREEN WIDGET", "Widgetry Kit", "plain box"];
const basePrices = [9.5, 2.25, 14, 2.25, 30.75];
const tagSets = [["sale"], ["new", "sale"], ["wholesale"], ["clearance", "new"], []];
const pad = (n: number) => String(n).padStart(2, "0");

/**
 * The request body of product `i` of the dataset: ties in price and stock, some records without
 * stockVersion (absent or null), stockUpdatedAt or tags, and mixed-case names.
 */
function datasetBody(i: number): Record<string, unknown> {
  const body: Record<string, unknown> = product({
    sku: `Q-${pad(i)}`,
    name: names[i % 5],
    price: (basePrices[i % 5] as number) + (i % 3),
    stock: i % 7,
    active: i % 3 !== 0,
  });
  if (i % 8 === 0) body.stockVersion = null;
  else if (i % 8 !== 4) body.stockVersion = i;
  if (i % 5 !== 0) body.stockUpdatedAt = `2024-01-${pad(1 + (i % 20))}T${10 + (i % 4)}:00:00+02:00`;
  if (i % 6 !== 0) body.tags = tagSets[i % 5];
  return body;
}

const ids = (records: Array<{ id: string }>) => records.map((r) => r.id);
const sortedIds = (records: Array<{ id: string }>) => ids(records).sort();
const isMissing = (v: unknown) => v === null || v === undefined;

/** Sorts like the documented ordering: by `key`, nulls last in both directions, then by id. */
function ordered(records: Rec[], key: (r: Rec) => number | string | null | undefined, direction: "ASC" | "DESC") {
  const sign = direction === "ASC" ? 1 : -1;
  return [...records].sort((a, b) => {
    const ka = key(a) ?? null;
    const kb = key(b) ?? null;
    if (ka !== kb) {
      if (ka === null) return 1;
      if (kb === null) return -1;
      return ka < kb ? -sign : sign;
    }
    return a.id < b.id ? -1 : 1;
  });
}

describe("POST /dynamic/{Entity}/query", () => {
  let flxbl: Emulator;
  let api: ReturnType<typeof as>;
  const bodies: Array<Record<string, unknown>> = [];
  const all: Rec[] = [];
  const query = (body: unknown) => api.post("/dynamic/Product/query", body);

  /** Asserts that the query answered exactly the dataset records `predicate` selects, in any order. */
  function expectMatches(res: { status: number; body: Rec[] }, predicate: (r: Rec) => boolean) {
    const expected = all.filter(predicate);
    // The filter must select some records but not all, or it would not tell a working filter from none.
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(all.length);
    expect(res.status).toBe(200);
    expect(sortedIds(res.body)).toEqual(sortedIds(expected));
  }

  beforeAll(async () => {
    flxbl = await startAppEmulator();
    api = as(flxbl, flxbl.adminKey);
    for (let i = 0; i < 25; i++) {
      // A pause halfway so createdAt splits the dataset into two distinct halves.
      if (i === 13) await sleep(5);
      const body = datasetBody(i);
      const res = await api.post<Rec>("/dynamic/Product", body);
      if (res.status !== 201) throw new Error(`creating product ${i} answered ${res.status}`);
      bodies.push(body);
      all.push(res.body);
    }
  });
  afterAll(() => flxbl.close());

  describe("comparison operators", () => {
    it("matches equal values with $eq", async () => {
      const res = await query({ where: { name: { $eq: "Red Widget" } } });

      expectMatches(res, (r) => r.name === "Red Widget");
    });

    it("matches equal values with a bare value", async () => {
      const res = await query({ where: { name: "blue gadget" } });

      expectMatches(res, (r) => r.name === "blue gadget");
    });

    it("matches a BOOLEAN with a bare value", async () => {
      const res = await query({ where: { active: false } });

      expectMatches(res, (r) => r.active === false);
    });

    it("matches different values with $neq", async () => {
      const res = await query({ where: { name: { $neq: "plain box" } } });

      expectMatches(res, (r) => r.name !== "plain box");
    });

    it("matches greater values with $gt on a FLOAT", async () => {
      const res = await query({ where: { price: { $gt: 10.5 } } });

      expectMatches(res, (r) => r.price > 10.5);
    });

    it("includes the bound with $gte on a FLOAT", async () => {
      const bound = all[1]?.price as number;

      const res = await query({ where: { price: { $gte: bound } } });

      expectMatches(res, (r) => r.price >= bound);
      expect(res.body.some((r: Rec) => r.price === bound)).toBe(true);
    });

    it("matches smaller values with $lt on a NUMBER", async () => {
      const res = await query({ where: { stock: { $lt: 3 } } });

      expectMatches(res, (r) => r.stock < 3);
    });

    it("includes the bound with $lte on a NUMBER", async () => {
      const res = await query({ where: { stock: { $lte: 3 } } });

      expectMatches(res, (r) => r.stock <= 3);
      expect(res.body.some((r: Rec) => r.stock === 3)).toBe(true);
    });

    it("matches any listed value with $in", async () => {
      const wanted = ["Q-02", "Q-07", "Q-19", "Q-99"];

      const res = await query({ where: { sku: { $in: wanted } } });

      expectMatches(res, (r) => wanted.includes(r.sku));
    });

    it("matches listed numbers with $in on a NUMBER", async () => {
      const res = await query({ where: { stock: { $in: [0, 6] } } });

      expectMatches(res, (r) => r.stock === 0 || r.stock === 6);
    });

    it("matches no listed value with $notIn", async () => {
      const unwanted = ["Red Widget", "plain box"];

      const res = await query({ where: { name: { $notIn: unwanted } } });

      expectMatches(res, (r) => !unwanted.includes(r.name));
    });

    it("combines several operators on one field as a range", async () => {
      const res = await query({ where: { price: { $gte: 3, $lt: 12 } } });

      expectMatches(res, (r) => r.price >= 3 && r.price < 12);
    });

    it("combines several fields of one where object with AND", async () => {
      const res = await query({ where: { active: true, stock: { $gt: 2 } } });

      expectMatches(res, (r) => r.active && r.stock > 2);
    });
  });

  describe("$contains", () => {
    it("matches a case-insensitive substring of a STRING field", async () => {
      const res = await query({ where: { name: { $contains: "wIDGet" } } });

      expectMatches(res, (r) => r.name.toLowerCase().includes("widget"));
      expect(new Set(res.body.map((r: Rec) => r.name))).toEqual(
        new Set(["Red Widget", "GREEN WIDGET", "Widgetry Kit"]),
      );
    });

    it("matches membership of a STRING_ARRAY, not a substring of an element", async () => {
      const res = await query({ where: { tags: { $contains: "sale" } } });

      expectMatches(res, (r) => Array.isArray(r.tags) && r.tags.includes("sale"));
      const wholesaleOnly = all.filter((r) => r.tags?.includes("wholesale") && !r.tags.includes("sale"));
      expect(wholesaleOnly.length).toBeGreaterThan(0);
      expect(ids(res.body)).not.toContain(wholesaleOnly[0]?.id);
    });
  });

  describe("logical operators", () => {
    it("matches all sub-conditions with $and", async () => {
      const res = await query({ where: { $and: [{ active: true }, { price: { $lt: 10 } }] } });

      expectMatches(res, (r) => r.active && r.price < 10);
    });

    it("matches any sub-condition with $or", async () => {
      const res = await query({ where: { $or: [{ stock: 0 }, { name: "plain box" }] } });

      expectMatches(res, (r) => r.stock === 0 || r.name === "plain box");
    });

    it("evaluates $and nested inside $or", async () => {
      const where = {
        $or: [{ $and: [{ active: true }, { price: { $gte: 14 } }] }, { tags: { $contains: "clearance" } }],
      };

      const res = await query({ where });

      expectMatches(res, (r) => (r.active && r.price >= 14) || (r.tags?.includes("clearance") ?? false));
    });

    it("evaluates $or nested inside $and next to a field condition", async () => {
      const where = { stock: { $gte: 1 }, $and: [{ $or: [{ name: "Red Widget" }, { name: "blue gadget" }] }] };

      const res = await query({ where });

      expectMatches(res, (r) => r.stock >= 1 && (r.name === "Red Widget" || r.name === "blue gadget"));
    });
  });

  describe("DATETIME comparisons", () => {
    it("compares DATETIME values as instants, not as strings", async () => {
      const operand = "2024-01-10T09:30:00+02:00";
      const instant = Date.parse(operand);
      const stringWouldDiffer = all.some(
        (r) => r.stockUpdatedAt !== undefined && r.stockUpdatedAt < operand !== Date.parse(r.stockUpdatedAt) < instant,
      );

      const res = await query({ where: { stockUpdatedAt: { $lt: operand } } });

      expect(stringWouldDiffer).toBe(true);
      expectMatches(res, (r) => r.stockUpdatedAt !== undefined && Date.parse(r.stockUpdatedAt) < instant);
    });

    it("matches the same instant written with another offset with $eq", async () => {
      const sent = bodies[7]?.stockUpdatedAt as string;

      const res = await query({ where: { stockUpdatedAt: { $eq: sent } } });

      expectMatches(res, (r) => r.stockUpdatedAt !== undefined && Date.parse(r.stockUpdatedAt) === Date.parse(sent));
      expect(ids(res.body)).toContain(all[7]?.id);
    });

    it("matches a DATETIME range with $gte and $lte", async () => {
      const from = "2024-01-05T00:00:00Z";
      const to = "2024-01-15T23:59:59Z";

      const res = await query({ where: { stockUpdatedAt: { $gte: from, $lte: to } } });

      expectMatches(
        res,
        (r) =>
          r.stockUpdatedAt !== undefined &&
          Date.parse(r.stockUpdatedAt) >= Date.parse(from) &&
          Date.parse(r.stockUpdatedAt) <= Date.parse(to),
      );
    });

    it("compares the system field createdAt with $gt", async () => {
      const pivot = all[12]?.createdAt as string;

      const res = await query({ where: { createdAt: { $gt: pivot } } });

      expectMatches(res, (r) => Date.parse(r.createdAt) > Date.parse(pivot));
    });

    it("compares the system field createdAt with $lte", async () => {
      const pivot = all[12]?.createdAt as string;

      const res = await query({ where: { createdAt: { $lte: pivot } } });

      expectMatches(res, (r) => Date.parse(r.createdAt) <= Date.parse(pivot));
    });
  });

  describe("missing values", () => {
    it("does not match a missing value with $neq", async () => {
      const res = await query({ where: { stockVersion: { $neq: 5 } } });

      expectMatches(res, (r) => !isMissing(r.stockVersion) && r.stockVersion !== 5);
      expect(res.body.every((r: Rec) => !isMissing(r.stockVersion))).toBe(true);
    });

    it("does not match a missing value with $notIn", async () => {
      const res = await query({ where: { stockVersion: { $notIn: [1, 2, 3] } } });

      expectMatches(res, (r) => !isMissing(r.stockVersion) && ![1, 2, 3].includes(r.stockVersion as number));
    });

    it("does not match a missing value with $gt or $lt", async () => {
      const res = await query({ where: { $or: [{ stockVersion: { $gt: 10 } }, { stockVersion: { $lt: 10 } }] } });

      expectMatches(res, (r) => !isMissing(r.stockVersion) && r.stockVersion !== 10);
    });

    it("matches absent and null values with $eq null", async () => {
      const res = await query({ where: { stockVersion: { $eq: null } } });

      expectMatches(res, (r) => isMissing(r.stockVersion));
      expect(all.some((r) => r.stockVersion === null)).toBe(true);
      expect(all.some((r) => !("stockVersion" in r))).toBe(true);
    });

    it("matches absent and null values with a bare null", async () => {
      const res = await query({ where: { stockVersion: null } });

      expectMatches(res, (r) => isMissing(r.stockVersion));
    });

    it("matches present values with $neq null", async () => {
      const res = await query({ where: { stockVersion: { $neq: null } } });

      expectMatches(res, (r) => !isMissing(r.stockVersion));
    });
  });

  describe("ordering and paging", () => {
    it("orders ascending by a field with orderBy and orderDirection ASC", async () => {
      const res = await query({ orderBy: "price", orderDirection: "ASC" });

      expect(ids(res.body)).toEqual(ids(ordered(all, (r) => r.price, "ASC")));
    });

    it("orders descending with orderDirection DESC", async () => {
      const res = await query({ orderBy: "price", orderDirection: "DESC" });

      expect(ids(res.body)).toEqual(ids(ordered(all, (r) => r.price, "DESC")));
    });

    it("orders ascending when orderDirection is left out", async () => {
      const res = await query({ orderBy: "sku" });

      expect(ids(res.body)).toEqual(ids(ordered(all, (r) => r.sku, "ASC")));
    });

    it("puts missing values last when ordering ascending", async () => {
      const res = await query({ orderBy: "stockVersion", orderDirection: "ASC" });

      expect(ids(res.body)).toEqual(ids(ordered(all, (r) => r.stockVersion, "ASC")));
      expect(isMissing(res.body.at(-1)?.stockVersion)).toBe(true);
    });

    it("puts missing values last when ordering descending", async () => {
      const res = await query({ orderBy: "stockVersion", orderDirection: "DESC" });

      expect(ids(res.body)).toEqual(ids(ordered(all, (r) => r.stockVersion, "DESC")));
      expect(isMissing(res.body.at(-1)?.stockVersion)).toBe(true);
      expect(isMissing(res.body[0]?.stockVersion)).toBe(false);
    });

    it("orders DATETIME values by instant", async () => {
      const res = await query({ orderBy: "stockUpdatedAt", orderDirection: "DESC" });

      const instant = (r: Rec) => (r.stockUpdatedAt === undefined ? null : Date.parse(r.stockUpdatedAt));
      expect(ids(res.body)).toEqual(ids(ordered(all, instant, "DESC")));
    });

    it("breaks ties by id", async () => {
      const res = await query({ orderBy: "stock", orderDirection: "DESC" });

      expect(ids(res.body)).toEqual(ids(ordered(all, (r) => r.stock, "DESC")));
    });

    it("returns limit records from offset of the ordered matches", async () => {
      const res = await query({ orderBy: "sku", limit: 5, offset: 10 });

      expect(ids(res.body)).toEqual(ids(ordered(all, (r) => r.sku, "ASC").slice(10, 15)));
    });

    it("pages through tied values without repeating or losing a record", async () => {
      const seen: string[] = [];
      for (let offset = 0; offset < all.length; offset += 4) {
        const page = await query({ orderBy: "stock", limit: 4, offset });
        seen.push(...ids(page.body));
      }

      expect(seen).toEqual(ids(ordered(all, (r) => r.stock, "ASC")));
    });

    it("answers an empty array for an offset past the matches", async () => {
      const res = await query({ where: { active: true }, offset: 100 });

      expect(res.status).toBe(200);
      expect(res.body).toEqual([]);
    });

    it("returns every record without a where", async () => {
      const res = await query({});

      expect(sortedIds(res.body)).toEqual(sortedIds(all));
    });
  });

  describe("response shape", () => {
    it("answers a bare array without includeCount", async () => {
      const res = await query({ where: { active: true }, limit: 2 });

      expect(Array.isArray(res.body)).toBe(true);
      expect(res.body).toHaveLength(2);
    });

    it("answers {data, totalCount} with includeCount, counting all matches beyond the page", async () => {
      const matching = all.filter((r) => r.active);

      const res = await query({ where: { active: true }, limit: 3, offset: 1, includeCount: true });

      expect(res.body).toEqual({ data: expect.any(Array), totalCount: matching.length });
      expect(res.body.data).toHaveLength(3);
      expect(matching.length).toBeGreaterThan(3);
    });

    it("answers a bare array when includeCount is false", async () => {
      const res = await query({ where: { active: true }, includeCount: false });

      expect(sortedIds(res.body)).toEqual(sortedIds(all.filter((r) => r.active)));
    });

    it("returns records exactly as a read by id does", async () => {
      const one = all[3] as Rec;

      const res = await query({ where: { id: one.id } });
      const read = await api.get(`/dynamic/Product/${one.id}`);

      expect(res.body).toEqual([read.body]);
    });
  });

  describe("refused queries", () => {
    const refused: Array<{ label: string; body: unknown }> = [
      { label: "an unknown field", body: { where: { colour: "red" } } },
      { label: "the undocumented operator $ne", body: { where: { stock: { $ne: 1 } } } },
      { label: "the undocumented operator $nin", body: { where: { stock: { $nin: [1] } } } },
      { label: "$startsWith with default options", body: { where: { name: { $startsWith: "Red" } } } },
      { label: "$endsWith with default options", body: { where: { name: { $endsWith: "box" } } } },
      { label: "$not with default options", body: { where: { $not: { active: true } } } },
      { label: "an unknown top-level operator", body: { where: { $nor: [{ active: true }] } } },
      { label: "a string operand for a NUMBER comparison", body: { where: { stock: { $gt: "5" } } } },
      { label: "a string operand for a BOOLEAN", body: { where: { active: { $eq: "true" } } } },
      { label: "a non-array operand for $in", body: { where: { sku: { $in: "Q-01" } } } },
      { label: "a non-array operand for $notIn", body: { where: { sku: { $notIn: "Q-01" } } } },
      { label: "$contains on a NUMBER field", body: { where: { stock: { $contains: 1 } } } },
      { label: "a number operand for $contains on a STRING_ARRAY", body: { where: { tags: { $contains: 5 } } } },
      { label: "$gt on a BOOLEAN field", body: { where: { active: { $gt: false } } } },
      { label: "a DATETIME operand that is not a date", body: { where: { stockUpdatedAt: { $gt: "yesterday" } } } },
      {
        label: "a DATETIME operand in a locale format",
        body: { where: { stockUpdatedAt: { $gt: "01/02/2024" } } },
      },
      { label: "an unknown body key", body: { where: {}, filter: { active: true } } },
      { label: "traverse", body: { traverse: [{ relationship: "CONTAINS", direction: "in" }] } },
      { label: "a limit of zero", body: { limit: 0 } },
      { label: "a negative limit", body: { limit: -5 } },
      { label: "a fractional limit", body: { limit: 2.5 } },
      { label: "a limit that is not a number", body: { limit: "ten" } },
      { label: "a negative offset", body: { offset: -1 } },
      { label: "an orderDirection other than ASC or DESC", body: { orderBy: "price", orderDirection: "UP" } },
      { label: "orderBy naming an unknown field", body: { orderBy: "colour" } },
      { label: "an includeCount that is not a boolean", body: { includeCount: "yes" } },
      { label: "a where that is an array", body: { where: [{ active: true }] } },
      { label: "an $or that is not an array", body: { where: { $or: { active: true } } } },
      { label: "an empty $and", body: { where: { $and: [] } } },
    ];

    it.each(refused)("answers 400 for $label", async ({ body }) => {
      const res = await query(body);

      expect(res.status).toBe(400);
      expect(res.body).toEqual({ statusCode: 400, message: expect.any(String), error: "Bad Request" });
    });

    it("answers 404 for a query on an unknown entity", async () => {
      const res = await api.post("/dynamic/Customer/query", {});

      expect(res.status).toBe(404);
    });
  });
});

describe("query on PASSWORD fields", () => {
  let flxbl: Emulator;
  let api: ReturnType<typeof as>;
  beforeAll(async () => {
    flxbl = await startEmulator({
      schema: {
        name: "accounts",
        entities: [
          {
            name: "Account",
            fields: [
              { name: "email", type: "STRING", required: true },
              { name: "password", type: "PASSWORD", required: true },
            ],
          },
        ],
      },
    });
    api = as(flxbl, flxbl.adminKey);
    await api.post("/dynamic/Account", { email: "a@example.com", password: "hunter22" });
  });
  afterAll(() => flxbl.close());

  it("answers 400 for a where on a PASSWORD field", async () => {
    const res = await api.post("/dynamic/Account/query", { where: { password: "hunter22" } });

    expect(res.status).toBe(400);
    expect(res.body.statusCode).toBe(400);
  });

  it("answers 400 for orderBy on a PASSWORD field", async () => {
    const res = await api.post("/dynamic/Account/query", { orderBy: "password" });

    expect(res.status).toBe(400);
  });
});

describe("query options", () => {
  const seedNames = ["Red Widget", "red widget", "Blue Gadget"];
  const start = (behaviour: Record<string, unknown>) =>
    startAppEmulator({
      behaviour,
      seed: { records: { Product: seedNames.map((name, i) => product({ sku: `O-${i}`, name })) } },
    });

  describe("with default options", () => {
    let flxbl: Emulator;
    beforeAll(async () => {
      flxbl = await start({});
    });
    afterAll(() => flxbl.close());

    it("compares $eq case-sensitively", async () => {
      const res = await as(flxbl, flxbl.adminKey).post("/dynamic/Product/query", {
        where: { name: { $eq: "red widget" } },
      });

      expect(res.body.map((r: Rec) => r.name)).toEqual(["red widget"]);
    });
  });

  describe("with caseInsensitiveEquality", () => {
    let flxbl: Emulator;
    beforeAll(async () => {
      flxbl = await start({ caseInsensitiveEquality: true });
    });
    afterAll(() => flxbl.close());

    it("compares $eq case-insensitively", async () => {
      const res = await as(flxbl, flxbl.adminKey).post("/dynamic/Product/query", {
        where: { name: { $eq: "RED WIDGET" } },
      });

      expect(res.body.map((r: Rec) => r.name).sort()).toEqual(["Red Widget", "red widget"]);
    });
  });

  describe("with extendedOperators", () => {
    let flxbl: Emulator;
    beforeAll(async () => {
      flxbl = await start({ extendedOperators: true });
    });
    afterAll(() => flxbl.close());

    it("matches a case-insensitive prefix with $startsWith", async () => {
      const res = await as(flxbl, flxbl.adminKey).post("/dynamic/Product/query", {
        where: { name: { $startsWith: "RED" } },
      });

      expect(res.body.map((r: Rec) => r.name).sort()).toEqual(["Red Widget", "red widget"]);
    });

    it("negates a condition with $not", async () => {
      const res = await as(flxbl, flxbl.adminKey).post("/dynamic/Product/query", {
        where: { $not: { name: { $contains: "widget" } } },
      });

      expect(res.body.map((r: Rec) => r.name)).toEqual(["Blue Gadget"]);
    });
  });
});
