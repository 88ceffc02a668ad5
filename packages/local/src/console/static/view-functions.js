// Functions: every manifest function with its trigger, scopes, key health and last invocation.
import { api, store } from "./app.js";
import { button, check, duration, el, fill, link, relative, statusBadge, table, time, toolbar } from "./dom.js";

let functions = [];
let body;

export async function render(container) {
  body = container;
  if (!container.hasChildNodes()) fill(container, el("p", { class: "muted" }, "Checking every function's key…"));
  functions = (await api("functions")).functions;
  draw();
}

export function onEvent(type, payload) {
  if (type === "invocation" && functions.some((f) => f.name === payload.function)) draw();
}

function lastOf(name) {
  let last;
  for (const v of store.invocations.values())
    if (v.function === name && (!last || v.startedAt > last.startedAt)) last = v;
  return last;
}

function keyCell(key) {
  if (key.error) return el("span", { class: "error" }, key.error);
  return el(
    "ul",
    { class: "checks" },
    el("li", {}, "key ", check(key.hasKey)),
    el("li", {}, "works ", check(key.works)),
    el("li", {}, "scopes ", check(key.scopes === "match", "match", key.scopes)),
    key.versionId
      ? el(
          "li",
          {},
          "version ",
          el("code", { title: key.versionId }, key.versionId.slice(0, 8)),
          ` (${relative(key.versionCreated)})`,
        )
      : null,
  );
}

function triggerCell(fn) {
  if (fn.route)
    return el(
      "span",
      {},
      el("code", {}, fn.trigger),
      el("br"),
      el("span", { class: "muted" }, fn.signature, " signature"),
    );
  return el(
    "span",
    {},
    el("code", {}, fn.schedule.expression),
    el("br"),
    fn.schedule.next
      ? el("span", {}, "next ", time(fn.schedule.next), ` (${relative(fn.schedule.next)})`)
      : "no more runs",
  );
}

function draw() {
  const rows = functions.map((fn) => {
    const last = lastOf(fn.name);
    return [
      el(
        "span",
        {},
        link({ view: "invocations", function: fn.name }, fn.name, { "data-function": fn.name }),
        el("br"),
        el("span", { class: "muted" }, fn.kind),
      ),
      triggerCell(fn),
      el(
        "ul",
        { class: "scopes" },
        fn.scopes.map((s) => el("li", {}, el("code", {}, s))),
      ),
      keyCell(fn.key),
      last
        ? el(
            "span",
            {},
            statusBadge(last.status),
            " ",
            link({ view: "invocations", id: last.id }, time(last.startedAt)),
            " ",
            duration(last.durationMs),
          )
        : el("span", { class: "muted" }, "none yet"),
    ];
  });
  fill(
    body,
    toolbar(button("Check keys again", () => render(body))),
    table(`${functions.length} functions`, ["Function", "Trigger", "Scopes", "Key", "Last invocation"], rows, {
      id: "functions-table",
    }),
  );
}
