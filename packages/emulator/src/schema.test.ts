import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, parseSchema, startEmulator } from "./index.js";
import { appSchema, as } from "./test-helpers.js";

/** One entity with an optional field of every documented type, and one with required fields. */
const typesSchema = {
  name: "field-types",
  version: 1,
  entities: [
    {
      name: "Thing",
      fields: [
        { name: "title", type: "STRING" },
        { name: "body", type: "TEXT" },
        { name: "count", type: "NUMBER" },
        { name: "ratio", type: "FLOAT" },
        { name: "flag", type: "BOOLEAN" },
        { name: "when", type: "DATETIME" },
        { name: "meta", type: "JSON" },
        { name: "size", type: "ENUM", enumValues: ["S", "M", "L"] },
        { name: "labels", type: "STRING_ARRAY" },
        { name: "counts", type: "NUMBER_ARRAY" },
        { name: "weights", type: "FLOAT_ARRAY" },
        { name: "attachment", type: "FILE" },
        { name: "embedding", type: "VECTOR", vectorDimensions: 3 },
        { name: "secret", type: "PASSWORD" },
      ],
    },
    {
      name: "Account",
      fields: [
        { name: "email", type: "STRING", required: true },
        { name: "password", type: "PASSWORD", required: true },
        { name: "age", type: "NUMBER", required: true },
        { name: "nickname", type: "STRING", required: false },
      ],
    },
  ],
  relationships: [],
};

const account = (overrides: Record<string, unknown> = {}) => ({
  email: "ada@example.com",
  password: "correct horse battery staple",
  age: 36,
  ...overrides,
});

interface Accepted {
  label: string;
  field: string;
  value: unknown;
  stored: unknown;
}

interface Refused {
  label: string;
  field: string;
  type: string;
  value: unknown;
}

const accepted: Accepted[] = [
  { label: "a STRING of exactly 255 characters", field: "title", value: "s".repeat(255), stored: "s".repeat(255) },
  { label: "an empty STRING", field: "title", value: "", stored: "" },
  { label: "a TEXT longer than 255 characters", field: "body", value: "t".repeat(5000), stored: "t".repeat(5000) },
  { label: "a positive NUMBER", field: "count", value: 42, stored: 42 },
  { label: "a negative NUMBER", field: "count", value: -7, stored: -7 },
  { label: "a NUMBER of zero", field: "count", value: 0, stored: 0 },
  { label: "a FLOAT with a fraction", field: "ratio", value: 0.125, stored: 0.125 },
  { label: "a FLOAT given as a whole number", field: "ratio", value: 3, stored: 3 },
  { label: "a BOOLEAN true", field: "flag", value: true, stored: true },
  { label: "a BOOLEAN false", field: "flag", value: false, stored: false },
  {
    label: "a DATETIME in UTC, normalised to toISOString",
    field: "when",
    value: "2024-03-01T10:00:00Z",
    stored: "2024-03-01T10:00:00.000Z",
  },
  {
    label: "a DATETIME with an offset, normalised to the same instant in UTC",
    field: "when",
    value: "2024-03-01T12:30:00+02:00",
    stored: "2024-03-01T10:30:00.000Z",
  },
  {
    label: "a DATETIME with fractional seconds, normalised to milliseconds",
    field: "when",
    value: "2024-03-01T10:00:00.5Z",
    stored: "2024-03-01T10:00:00.500Z",
  },
  {
    label: "a date-only DATETIME, normalised to midnight UTC",
    field: "when",
    value: "2024-02-29",
    stored: "2024-02-29T00:00:00.000Z",
  },
  {
    label: "a JSON object with nesting",
    field: "meta",
    value: { a: 1, b: { c: [true, null, "x"] } },
    stored: { a: 1, b: { c: [true, null, "x"] } },
  },
  { label: "a JSON array", field: "meta", value: [1, "two", { three: 3 }], stored: [1, "two", { three: 3 }] },
  { label: "a JSON string", field: "meta", value: "just text", stored: "just text" },
  { label: "a JSON number", field: "meta", value: 12.5, stored: 12.5 },
  { label: "an ENUM value from enumValues", field: "size", value: "M", stored: "M" },
  { label: "a STRING_ARRAY of strings", field: "labels", value: ["a", "b"], stored: ["a", "b"] },
  { label: "an empty STRING_ARRAY", field: "labels", value: [], stored: [] },
  { label: "a NUMBER_ARRAY of integers", field: "counts", value: [1, -2, 3], stored: [1, -2, 3] },
  { label: "a FLOAT_ARRAY of numbers", field: "weights", value: [0.5, 2, -1.25], stored: [0.5, 2, -1.25] },
  {
    label: "a FILE reference string",
    field: "attachment",
    value: "https://files.example.com/a.pdf",
    stored: "https://files.example.com/a.pdf",
  },
  {
    label: "a VECTOR with exactly vectorDimensions numbers",
    field: "embedding",
    value: [0.1, -0.2, 3],
    stored: [0.1, -0.2, 3],
  },
];

const refused: Refused[] = [
  { label: "a STRING of 256 characters", field: "title", type: "STRING", value: "s".repeat(256) },
  { label: "a STRING given as a number", field: "title", type: "STRING", value: 12 },
  { label: "a TEXT given as an object", field: "body", type: "TEXT", value: { text: "x" } },
  { label: "a NUMBER with a fraction", field: "count", type: "NUMBER", value: 1.5 },
  { label: "a NUMBER given as a numeric string", field: "count", type: "NUMBER", value: "42" },
  { label: "a FLOAT given as a numeric string", field: "ratio", type: "FLOAT", value: "0.5" },
  { label: "a BOOLEAN given as the string true", field: "flag", type: "BOOLEAN", value: "true" },
  { label: "a BOOLEAN given as 1", field: "flag", type: "BOOLEAN", value: 1 },
  { label: "a DATETIME that is not a date", field: "when", type: "DATETIME", value: "next tuesday" },
  { label: "a DATETIME in a locale format", field: "when", type: "DATETIME", value: "03/01/2024" },
  { label: "a DATETIME given as epoch milliseconds", field: "when", type: "DATETIME", value: 1709287200000 },
  { label: "a DATETIME with month 13", field: "when", type: "DATETIME", value: "2024-13-01T00:00:00Z" },
  { label: "a DATETIME on a day that does not exist", field: "when", type: "DATETIME", value: "2023-02-29T10:00:00Z" },
  { label: "an ENUM value outside enumValues", field: "size", type: "ENUM", value: "XL" },
  { label: "an ENUM value in the wrong case", field: "size", type: "ENUM", value: "m" },
  { label: "a STRING_ARRAY holding a number", field: "labels", type: "STRING_ARRAY", value: ["a", 1] },
  { label: "a STRING_ARRAY given as a plain string", field: "labels", type: "STRING_ARRAY", value: "a" },
  { label: "a NUMBER_ARRAY holding a fraction", field: "counts", type: "NUMBER_ARRAY", value: [1, 2.5] },
  { label: "a NUMBER_ARRAY holding a string", field: "counts", type: "NUMBER_ARRAY", value: ["1"] },
  { label: "a FLOAT_ARRAY holding a string", field: "weights", type: "FLOAT_ARRAY", value: [0.5, "x"] },
  { label: "a FLOAT_ARRAY given as one number", field: "weights", type: "FLOAT_ARRAY", value: 0.5 },
  { label: "a FILE given as a number", field: "attachment", type: "FILE", value: 7 },
  { label: "a VECTOR shorter than vectorDimensions", field: "embedding", type: "VECTOR", value: [0.1, 0.2] },
  { label: "a VECTOR longer than vectorDimensions", field: "embedding", type: "VECTOR", value: [1, 2, 3, 4] },
  { label: "a VECTOR holding a string", field: "embedding", type: "VECTOR", value: [1, "2", 3] },
  { label: "an empty PASSWORD", field: "secret", type: "PASSWORD", value: "" },
  { label: "a PASSWORD given as a number", field: "secret", type: "PASSWORD", value: 1234 },
];

describe("write validation over HTTP", () => {
  let flxbl: Emulator;
  let api: ReturnType<typeof as>;
  beforeAll(async () => {
    flxbl = await startEmulator({ schema: typesSchema });
    api = as(flxbl, flxbl.adminKey);
  });
  afterAll(() => flxbl.close());

  describe("field types", () => {
    it.each(accepted)("accepts $label and reads back the stored value", async ({ field, value, stored }) => {
      const created = await api.post("/dynamic/Thing", { [field]: value });

      const read = await api.get(`/dynamic/Thing/${created.body.id}`);

      expect(created.status).toBe(201);
      expect(created.body[field]).toEqual(stored);
      expect(read.body[field]).toEqual(stored);
    });

    it.each(refused)("refuses $label with a 422 naming the field and its type", async ({ field, type, value }) => {
      const res = await api.post("/dynamic/Thing", { [field]: value });

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field, expectedType: type })]);
    });

    it("stores nothing when a create is refused", async () => {
      const before = await api.get("/dynamic/Thing?limit=1");

      const res = await api.post("/dynamic/Thing", { title: "kept out", count: 1.5 });
      const after = await api.get("/dynamic/Thing?limit=1");

      expect(res.status).toBe(422);
      expect(after.body.pagination.total).toBe(before.body.pagination.total);
    });

    it("refuses a PATCH whose value has the wrong type and keeps the stored value", async () => {
      const created = await api.post("/dynamic/Thing", { count: 5 });

      const res = await api.patch(`/dynamic/Thing/${created.body.id}`, { count: "six" });
      const read = await api.get(`/dynamic/Thing/${created.body.id}`);

      expect(res.status).toBe(422);
      expect(read.body.count).toBe(5);
    });
  });

  describe("PASSWORD fields", () => {
    it("never returns a PASSWORD from create, read, list or query", async () => {
      const created = await api.post("/dynamic/Account", account({ email: "hidden@example.com" }));

      const read = await api.get(`/dynamic/Account/${created.body.id}`);
      const list = await api.get("/dynamic/Account?limit=1000");
      const query = await api.post("/dynamic/Account/query", { where: { email: "hidden@example.com" } });

      expect(created.status).toBe(201);
      expect(created.body).not.toHaveProperty("password");
      expect(read.body).not.toHaveProperty("password");
      const listed = list.body.data.find((r: { id: string }) => r.id === created.body.id);
      expect(listed).toBeDefined();
      expect(listed).not.toHaveProperty("password");
      expect(query.body).toHaveLength(1);
      expect(query.body[0]).not.toHaveProperty("password");
    });

    it("never returns a PASSWORD from PUT or PATCH", async () => {
      const created = await api.post("/dynamic/Account", account());

      const patched = await api.patch(`/dynamic/Account/${created.body.id}`, { password: "a new secret" });
      const put = await api.put(`/dynamic/Account/${created.body.id}`, account({ password: "another secret" }));

      expect(patched.status).toBe(200);
      expect(patched.body).not.toHaveProperty("password");
      expect(put.status).toBe(200);
      expect(put.body).not.toHaveProperty("password");
    });

    it("does not echo a refused PASSWORD value in the validation error", async () => {
      const res = await api.post("/dynamic/Thing", { secret: 987654321 });

      expect(res.status).toBe(422);
      expect(JSON.stringify(res.body)).not.toContain("987654321");
    });

    it("stores a PASSWORD hashed, not in plain text", async () => {
      const dir = mkdtempSync(join(tmpdir(), "flxbl-schema-test-"));
      const file = join(dir, "emulator.db");
      const onDisk = await startEmulator({ schema: typesSchema, db: file });
      try {
        const created = await as(onDisk, onDisk.adminKey).post("/dynamic/Account", account({ password: "pl41n-t3xt" }));

        const db = new DatabaseSync(file, { readOnly: true });
        const row = db.prepare("SELECT data FROM records WHERE id = ?").get(created.body.id) as { data: string };
        db.close();

        expect(created.status).toBe(201);
        const stored = JSON.parse(row.data) as { password: unknown };
        expect(typeof stored.password).toBe("string");
        expect(stored.password).not.toBe("pl41n-t3xt");
        expect(row.data).not.toContain("pl41n-t3xt");
      } finally {
        await onDisk.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("required fields", () => {
    it("refuses a create that leaves out a required field", async () => {
      const { age: _age, ...withoutAge } = account();

      const res = await api.post("/dynamic/Account", withoutAge);

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "age", expectedType: "NUMBER" })]);
    });

    it("lists every missing required field of a create at once", async () => {
      const res = await api.post("/dynamic/Account", {});

      expect(res.status).toBe(422);
      expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["age", "email", "password"]);
    });

    it("accepts a create that leaves out an optional field", async () => {
      const res = await api.post("/dynamic/Account", account());

      expect(res.status).toBe(201);
      expect(res.body).not.toHaveProperty("nickname");
    });

    it("refuses a PUT that leaves out a required field and keeps the record", async () => {
      const created = await api.post("/dynamic/Account", account({ email: "put@example.com" }));
      const { email: _email, ...withoutEmail } = account();

      const res = await api.put(`/dynamic/Account/${created.body.id}`, withoutEmail);
      const read = await api.get(`/dynamic/Account/${created.body.id}`);

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "email", expectedType: "STRING" })]);
      expect(read.body.email).toBe("put@example.com");
    });

    it("accepts a PATCH that leaves out required fields", async () => {
      const created = await api.post("/dynamic/Account", account());

      const res = await api.patch(`/dynamic/Account/${created.body.id}`, { nickname: "ada" });

      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ email: "ada@example.com", age: 36, nickname: "ada" });
    });
  });

  describe("null values", () => {
    it("accepts null for an optional field on create", async () => {
      const res = await api.post("/dynamic/Account", account({ nickname: null }));

      expect(res.status).toBe(201);
      expect(res.body.nickname ?? null).toBeNull();
    });

    it("clears an optional field when a PATCH sends null", async () => {
      const created = await api.post("/dynamic/Account", account({ nickname: "ada" }));

      const res = await api.patch(`/dynamic/Account/${created.body.id}`, { nickname: null });
      const read = await api.get(`/dynamic/Account/${created.body.id}`);

      expect(res.status).toBe(200);
      expect(read.body.nickname ?? null).toBeNull();
    });

    it("refuses null for a required field on create", async () => {
      const res = await api.post("/dynamic/Account", account({ age: null }));

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "age", expectedType: "NUMBER" })]);
    });

    it("refuses null for a required field on PATCH and keeps the value", async () => {
      const created = await api.post("/dynamic/Account", account({ age: 40 }));

      const res = await api.patch(`/dynamic/Account/${created.body.id}`, { age: null });
      const read = await api.get(`/dynamic/Account/${created.body.id}`);

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "age" })]);
      expect(read.body.age).toBe(40);
    });

    it("refuses null for a required field on PUT", async () => {
      const created = await api.post("/dynamic/Account", account());

      const res = await api.put(`/dynamic/Account/${created.body.id}`, account({ email: null }));

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "email" })]);
    });
  });

  describe("unknown, reserved and system fields", () => {
    it("refuses a create with a field the entity does not declare", async () => {
      const res = await api.post("/dynamic/Account", account({ favouriteColour: "green" }));

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "favouriteColour" })]);
    });

    it("refuses a PATCH with a field the entity does not declare", async () => {
      const created = await api.post("/dynamic/Account", account());

      const res = await api.patch(`/dynamic/Account/${created.body.id}`, { favouriteColour: "green" });

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "favouriteColour" })]);
    });

    it("refuses a create that sets the reserved id", async () => {
      const res = await api.post("/dynamic/Account", account({ id: "node_mine" }));

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "id" })]);
    });

    it("refuses a PATCH that sets the reserved id and keeps the record under its id", async () => {
      const created = await api.post("/dynamic/Account", account());

      const res = await api.patch(`/dynamic/Account/${created.body.id}`, { id: "node_other" });
      const read = await api.get(`/dynamic/Account/${created.body.id}`);

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "id" })]);
      expect(read.status).toBe(200);
    });

    it("refuses a create that sets the system field createdAt", async () => {
      const res = await api.post("/dynamic/Account", account({ createdAt: "2020-01-01T00:00:00.000Z" }));

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "createdAt" })]);
    });

    it("refuses a PUT that sets the system field updatedAt", async () => {
      const created = await api.post("/dynamic/Account", account());

      const res = await api.put(
        `/dynamic/Account/${created.body.id}`,
        account({ updatedAt: "2020-01-01T00:00:00.000Z" }),
      );

      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "updatedAt" })]);
    });
  });

  describe("validation error body", () => {
    it("answers 422 with statusCode, message, error and per-field errors", async () => {
      const res = await api.post("/dynamic/Thing", { count: 1.5 });

      expect(res.status).toBe(422);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        statusCode: 422,
        message: expect.any(String),
        error: "Unprocessable Entity",
        errors: [{ field: "count", message: expect.any(String), expectedType: "NUMBER", actualValue: 1.5 }],
      });
    });

    it("reports every invalid field of one write together", async () => {
      const res = await api.post("/dynamic/Thing", { count: "x", flag: "yes", size: "XXL" });

      expect(res.status).toBe(422);
      expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["count", "flag", "size"]);
    });
  });
});

describe("parseSchema", () => {
  const entity = (name: string, fields: unknown[] = [{ name: "title", type: "STRING" }]) => ({ name, fields });
  const doc = (overrides: Record<string, unknown>) => ({ name: "s", entities: [entity("A")], ...overrides });

  it("accepts the app's schema document", () => {
    const parsed = parseSchema(appSchema);

    expect(parsed.entities.map((e) => e.name)).toEqual(["Product", "Order", "StockAlert"]);
    expect(parsed.relationships.map((r) => r.name)).toEqual(["CONTAINS", "ALERTS_ON"]);
  });

  it("refuses a relationship whose end names an unknown entity", () => {
    const input = doc({
      relationships: [
        { name: "LINKS", sourceEntityName: "A", targetEntityName: "Missing", cardinality: "ONE_TO_MANY" },
      ],
    });

    expect(() => parseSchema(input)).toThrow(/LINKS names unknown entity Missing/);
  });

  it("refuses an ENUM field without enumValues", () => {
    const input = doc({ entities: [entity("A", [{ name: "state", type: "ENUM" }])] });

    expect(() => parseSchema(input)).toThrow(/ENUM fields need enumValues/);
  });

  it("refuses an ENUM field with an empty enumValues list", () => {
    const input = doc({ entities: [entity("A", [{ name: "state", type: "ENUM", enumValues: [] }])] });

    expect(() => parseSchema(input)).toThrow(/enumValues/);
  });

  it("refuses an entity declared twice", () => {
    const input = doc({ entities: [entity("A"), entity("A")] });

    expect(() => parseSchema(input)).toThrow(/entity A is declared twice/);
  });

  it("refuses a field declared twice in one entity", () => {
    const title = { name: "title", type: "STRING" };
    const input = doc({ entities: [entity("A", [title, title])] });

    expect(() => parseSchema(input)).toThrow(/A\.title is declared twice/);
  });

  it("refuses a VECTOR field without vectorDimensions", () => {
    const input = doc({ entities: [entity("A", [{ name: "embedding", type: "VECTOR" }])] });

    expect(() => parseSchema(input)).toThrow(/VECTOR fields need vectorDimensions/);
  });

  it("refuses a field named with the reserved id", () => {
    const input = doc({ entities: [entity("A", [{ name: "id", type: "STRING" }])] });

    expect(() => parseSchema(input)).toThrow(/reserved/);
  });

  it("refuses a field of an undocumented type", () => {
    const input = doc({ entities: [entity("A", [{ name: "price", type: "MONEY" }])] });

    expect(() => parseSchema(input)).toThrow(/entities\.0\.fields\.0\.type/);
  });

  it("makes startEmulator reject an invalid schema document", async () => {
    const input = doc({ entities: [entity("A"), entity("A")] });

    await expect(startEmulator({ schema: input })).rejects.toThrow(/Invalid FLXBL schema document/);
  });
});
