import { describe, expect, it } from "vitest";
import { grants, isScope, type ScopeNeed, scopeFor } from "./scopes.js";

describe("isScope", () => {
  it.each([
    "entity:Order:read",
    "entity:Order:create",
    "entity:Order:update",
    "entity:Order:delete",
    "entity:Order:*",
    "entity:*:read",
    "entity:*:*",
    "entity:Stock_Alert2:read",
    "relationship:CONTAINS:create",
    "relationship:*:delete",
    "relationship:*:*",
  ])("accepts %s", (value) => {
    expect(isScope(value)).toBe(true);
  });

  it.each([
    ["an unknown operation", "entity:Order:write"],
    ["an unknown kind", "entities:Order:read"],
    ["a capitalised kind", "Entity:Order:read"],
    ["an uppercase operation", "entity:Order:READ"],
    ["an empty name", "entity::read"],
    ["a name starting with a digit", "entity:2Order:read"],
    ["a partial wildcard", "entity:Ord*:read"],
    ["a name with a hyphen", "entity:Stock-Alert:read"],
    ["a missing operation", "entity:Order"],
    ["an extra segment", "entity:Order:read:all"],
    ["leading space", " entity:Order:read"],
    ["trailing space", "entity:Order:read "],
    ["a trailing newline", "entity:Order:read\n"],
    ["the empty string", ""],
  ])("rejects %s (%j)", (_, value) => {
    expect(isScope(value)).toBe(false);
  });

  it.each([
    ["a number", 42],
    ["null", null],
    ["undefined", undefined],
    ["an array holding a scope", ["entity:Order:read"]],
    ["an object", { scope: "entity:Order:read" }],
  ])("rejects %s", (_, value) => {
    expect(isScope(value)).toBe(false);
  });
});

describe("grants", () => {
  const readOrder: ScopeNeed = { kind: "entity", name: "Order", op: "read" };
  const updateOrder: ScopeNeed = { kind: "entity", name: "Order", op: "update" };
  const createContains: ScopeNeed = { kind: "relationship", name: "CONTAINS", op: "create" };

  it.each<[string, string[], ScopeNeed]>([
    ["the exact scope", ["entity:Order:read"], readOrder],
    ["a name wildcard", ["entity:*:read"], readOrder],
    ["an operation wildcard", ["entity:Order:*"], updateOrder],
    ["full entity access", ["entity:*:*"], updateOrder],
    ["any one of several scopes", ["entity:Product:read", "entity:Order:update"], updateOrder],
    ["a valid scope next to an invalid one", ["entity:Order:write", "entity:Order:update"], updateOrder],
    ["the exact relationship scope", ["relationship:CONTAINS:create"], createContains],
    ["a relationship name wildcard", ["relationship:*:create"], createContains],
    ["full relationship access", ["relationship:*:*"], createContains],
  ])("grants by %s", (_, scopes, need) => {
    expect(grants(scopes, need)).toBe(true);
  });

  it.each<[string, string[], ScopeNeed]>([
    ["no scopes", [], readOrder],
    ["another operation", ["entity:Order:read"], updateOrder],
    ["another entity", ["entity:Product:*"], readOrder],
    ["a name that only prefixes the entity's", ["entity:Ord:read"], readOrder],
    ["a name the entity's only prefixes", ["entity:OrderLine:read"], readOrder],
    ["another letter case", ["entity:order:read"], readOrder],
    ["full entity access for a relationship", ["entity:*:*"], createContains],
    ["full relationship access for an entity", ["relationship:*:*"], readOrder],
    ["another relationship", ["relationship:ALERTS_ON:*"], createContains],
    ["an invalid scope that names the operation", ["entity:Order:read:extra"], readOrder],
    ["a partial wildcard", ["entity:Ord*:read"], readOrder],
    ["a padded scope", [" entity:Order:read"], readOrder],
  ])("refuses under %s", (_, scopes, need) => {
    expect(grants(scopes, need)).toBe(false);
  });
});

describe("scopeFor", () => {
  it.each<[ScopeNeed, string]>([
    [{ kind: "entity", name: "Order", op: "read" }, "entity:Order:read"],
    [{ kind: "entity", name: "Product", op: "create" }, "entity:Product:create"],
    [{ kind: "entity", name: "StockAlert", op: "update" }, "entity:StockAlert:update"],
    [{ kind: "relationship", name: "CONTAINS", op: "delete" }, "relationship:CONTAINS:delete"],
  ])("renders %j as %s", (need, scope) => {
    expect(scopeFor(need)).toBe(scope);
  });

  it.each<ScopeNeed>([
    { kind: "entity", name: "Order", op: "update" },
    { kind: "relationship", name: "ALERTS_ON", op: "create" },
  ])("renders a scope that grants %j", (need) => {
    const scope = scopeFor(need);

    expect(isScope(scope)).toBe(true);
    expect(grants([scope], need)).toBe(true);
  });
});
