// Data: FLXBL's entities and records, read-only, newest first; a record opens by id.
import { api, go } from "./app.js";
import { button, el, facts, fill, link, table, toolbar } from "./dom.js";

const pageSize = 25;

export async function render(container, state) {
  const { entities, writers } = await api("data");
  const entity = state.get("entity");
  const id = state.get("id");
  const nav = el(
    "ul",
    { class: "entities", "aria-label": "Entities" },
    entities.map((e) =>
      el(
        "li",
        {},
        link({ view: "data", entity: e.name }, `${e.name} (${e.count ?? "?"})`, {
          "aria-current": e.name === entity ? "page" : null,
        }),
      ),
    ),
  );
  const parts = [nav];
  if (entity) {
    parts.push(el("p", { class: "muted" }, `Changed by: ${writers[entity]?.join(", ") || "no function"}`));
    parts.push(id ? await record(entity, id) : await records(entity, Number(state.get("offset") ?? 0)));
  }
  fill(container, parts);
}

async function records(entity, offset) {
  const page = await api(`data/${encodeURIComponent(entity)}?offset=${offset}&limit=${pageSize}`);
  const columns = [...new Set(page.records.flatMap((r) => Object.keys(r)))]
    .filter((c) => !["id", "createdAt"].includes(c))
    .slice(0, 5);
  const rows = page.records.map((r) => [
    link({ view: "data", entity, id: r.id }, r.id),
    ...columns.map((c) => show(r[c])),
  ]);
  const end = offset + page.records.length;
  return el(
    "div",
    {},
    table(
      `${entity}: ${page.records.length ? `${offset + 1}–${end}` : "none"} of ${page.total ?? "?"} (newest first)`,
      ["id", ...columns],
      rows,
      { id: "records-table" },
    ),
    toolbar(
      button("Newer", () => go({ offset: Math.max(0, offset - pageSize) || null }), { disabled: offset === 0 }),
      button("Older", () => go({ offset: end }), { disabled: page.total === null || end >= page.total }),
    ),
  );
}

async function record(entity, id) {
  const value = await api(`data/${encodeURIComponent(entity)}/${encodeURIComponent(id)}`);
  return el(
    "section",
    { class: "detail", "aria-labelledby": "record-title" },
    el("h3", { id: "record-title" }, `${entity} ${id}`),
    facts(Object.entries(value).map(([k, v]) => [k, show(v)])),
    el("p", {}, link({ view: "data", entity }, `All ${entity} records`)),
  );
}

const show = (v) =>
  v === null || v === undefined ? "—" : typeof v === "object" ? el("code", {}, JSON.stringify(v)) : String(v);
