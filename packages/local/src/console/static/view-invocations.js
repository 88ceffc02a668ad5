// Invocations, live: a filterable list and the open one's log lines, event and answer.
import { announce, api, go, store } from "./app.js";
import { button, duration, el, facts, fill, link, pre, statusBadge, table, time, toolbar } from "./dom.js";

let body;
let functionNames = [];

export async function render(container, state) {
  body = container;
  if (functionNames.length === 0) functionNames = (await api("functions")).functions.map((f) => f.name);
  draw(state);
}

export function onEvent(type, payload, state) {
  if (type !== "invocation") return;
  // Redraw the list, and the open invocation only when it is the one that changed.
  draw(state, payload.id === state.get("id") ? undefined : { keepDetail: true });
}

function matches(view, fn, status) {
  if (fn && view.function !== fn) return false;
  if (!status) return true;
  if (status === "running") return view.status === "running";
  if (status === "ok") return view.status === "ok" || (typeof view.status === "number" && view.status < 400);
  if (status === "error") return view.status === "error" || (typeof view.status === "number" && view.status >= 400);
  return String(view.status) === status;
}

function filters(state) {
  const select = (id, label, name, options) =>
    el(
      "p",
      { class: "field" },
      el("label", { for: id }, label),
      el(
        "select",
        { id, name, onchange: (e) => go({ [name]: e.target.value, id: null }, { replace: true }) },
        options.map(([value, text]) => el("option", { value, selected: (state.get(name) ?? "") === value }, text)),
      ),
    );
  return el(
    "form",
    { class: "filters", "aria-label": "Filter invocations", onsubmit: (e) => e.preventDefault() },
    select("filter-function", "Function", "function", [
      ["", "all functions"],
      ...[...functionNames, "rotate-key"].map((n) => [n, n]),
    ]),
    select("filter-status", "Status", "status", [
      ["", "any status"],
      ["ok", "succeeded (2xx, ok)"],
      ["error", "failed (4xx, 5xx, error)"],
      ["running", "running"],
    ]),
  );
}

function draw(state, { keepDetail = false } = {}) {
  const fn = state.get("function");
  const status = state.get("status");
  const selected = state.get("id");
  const shown = [...store.invocations.values()]
    .filter((v) => matches(v, fn, status))
    .sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1))
    .slice(0, 200);
  const rows = shown.map((v) => [
    link({ ...Object.fromEntries(state), view: "invocations", id: v.id }, time(v.startedAt), {
      "aria-current": v.id === selected ? "true" : null,
      "aria-label": `${v.function} at ${new Date(v.startedAt).toLocaleTimeString([], { hour12: false })}, ${v.status}`,
    }),
    v.function,
    el("code", {}, v.trigger),
    statusBadge(v.status),
    duration(v.durationMs),
    v.flxblCalls ? `${v.flxblCalls.length} (${v.flxblRetries} retried)` : "not recorded",
    el("code", { title: v.requestId }, v.requestId.slice(0, 8)),
  ]);
  const list = table(
    `${shown.length} invocations${fn ? ` of ${fn}` : ""}${status ? `, ${status}` : ""} (newest first, live)`,
    ["Time", "Function", "Trigger", "Status", "Duration", "FLXBL calls", "Request id"],
    rows,
    {
      id: "invocations-table",
    },
  );
  const old = body.querySelector("#invocation-detail");
  const detail = keepDetail && old ? old : detailOf(selected);
  fill(body, filters(state), el("div", { class: selected ? "split open" : "split" }, list, detail));
}

/** Ids of records an event or answer names (`orderId`, `productId`) that the data view can open. */
function recordLinks(view) {
  const found = new Map();
  const visit = (value, key) => {
    if (typeof value === "string" && key) {
      const entity = store.entities.find((e) => `${e.toLowerCase()}id` === key.toLowerCase());
      if (entity) found.set(`${entity}/${value}`, [entity, value]);
    } else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) visit(v, k);
  };
  for (const text of [view.event.body, view.answer?.body]) {
    try {
      visit(JSON.parse(text ?? "null"));
    } catch {
      // Not JSON: nothing to link.
    }
  }
  visit(view.answer?.value);
  return [...found.values()];
}

function headersTable(caption, headers) {
  return table(
    caption,
    ["Header", "Value"],
    Object.entries(headers ?? {}).map(([k, v]) => [el("code", {}, k), el("code", {}, v)]),
  );
}

function detailOf(id) {
  const view = id ? store.invocations.get(id) : undefined;
  if (!view)
    return el(
      "section",
      { id: "invocation-detail", class: "detail", "aria-label": "Invocation" },
      el(
        "p",
        { class: "muted" },
        id
          ? "That invocation is no longer kept (only the last 200 are)."
          : "Open an invocation to see its log lines, event and answer.",
      ),
    );
  const records = recordLinks(view);
  return el(
    "section",
    { id: "invocation-detail", class: "detail", "aria-labelledby": "invocation-title" },
    el("h3", { id: "invocation-title", tabindex: -1 }, `${view.function} `, statusBadge(view.status)),
    facts([
      ["Started", time(view.startedAt)],
      ["Trigger", el("code", {}, view.trigger)],
      ["Duration", duration(view.durationMs)],
      ["Request id", el("code", {}, view.requestId)],
      ["Replay of", view.replayOf ? link({ view: "invocations", id: view.replayOf }, "the original delivery") : null],
      ["Error", view.error ? `${view.error.name}: ${view.error.message}` : null],
      [
        "Records",
        records.length
          ? el(
              "ul",
              {},
              records.map(([entity, rid]) => el("li", {}, link({ view: "data", entity, id: rid }, `${entity} ${rid}`))),
            )
          : null,
      ],
    ]),
    view.event.headers ? toolbar(button("Replay this delivery", () => replay(view))) : null,
    el("h4", {}, "FLXBL calls"),
    view.flxblCalls
      ? table(
          `${view.flxblCalls.length} calls, ${view.flxblRetries} of them retries`,
          ["Method", "Path", "Status", "Duration", "Retry"],
          view.flxblCalls.map((c) => [
            c.method,
            el("code", {}, c.path),
            statusBadge(c.status),
            duration(c.durationMs),
            c.retry ? "retry" : "",
          ]),
          { id: "flxbl-calls" },
        )
      : el("p", { class: "muted" }, "Not recorded: npm start records them (startRuntime with recordFlxblCalls)."),
    el("h4", {}, `Log lines (${view.logs.length})`),
    el(
      "ol",
      { class: "logs", "aria-label": "Log lines" },
      view.logs.map((line) =>
        el(
          "li",
          { class: `log ${(line.level ?? "").toLowerCase()}` },
          time(line.at),
          " ",
          line.level ? el("strong", {}, line.level) : null,
          " ",
          line.message,
          line.fields ? el("code", {}, ` ${JSON.stringify(line.fields)}`) : null,
        ),
      ),
    ),
    el("h4", {}, "Event"),
    view.event.headers ? headersTable("Request headers (signatures and secrets masked)", view.event.headers) : null,
    pre(view.event.body ?? JSON.stringify(view.event.value, null, 2), "Event body"),
    el("h4", {}, "Answer"),
    view.answer
      ? pre(view.answer.body ?? JSON.stringify(view.answer.value, null, 2), "Answer body")
      : el("p", { class: "muted" }, view.status === "running" ? "Still running…" : "No answer"),
  );
}

async function replay(view) {
  try {
    const sent = await api(`invocations/${view.id}/replay`, { method: "POST" });
    announce(`Replayed: the webhook answered ${sent.status}`);
    if (sent.invocationId) go({ view: "invocations", id: sent.invocationId });
  } catch (err) {
    announce(`Replay failed: ${err.message}`);
  }
}
