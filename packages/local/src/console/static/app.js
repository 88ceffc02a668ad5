// The console's page: reads the state from the URL's hash, renders one view, keeps a live
// stream of changes (server-sent events) and hands them to the view on screen.
import { coalesced, el, fill } from "./dom.js";
import * as data from "./view-data.js";
import * as functions from "./view-functions.js";
import * as invocations from "./view-invocations.js";
import * as jobs from "./view-jobs.js";
import * as keys from "./view-keys.js";
import * as webhooks from "./view-webhooks.js";

const views = { functions, invocations, jobs, webhooks, keys, data };

/** What the page knows: invocations by id (from the list and the stream), entity names. */
export const store = { invocations: new Map(), entities: [] };

/** The state in the URL: `#view=invocations&function=...&id=...`. */
export const params = () => new URLSearchParams(location.hash.slice(1));

/**
 * Changes the URL's state (a value of null removes it) and renders. `replace` keeps the history
 * entry (filters typed in), otherwise the change can be gone back from.
 */
export function go(changes, { replace = false } = {}) {
  const next = params();
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") next.delete(key);
    else next.set(key, value);
  }
  const hash = `#${next}`;
  if (hash === location.hash) return render();
  if (replace) {
    history.replaceState(null, "", hash);
    render();
  } else location.hash = hash;
}

/** A call of the console's API: the parsed JSON, or an Error with the server's message. */
export async function api(path, { method = "GET", body } = {}) {
  const res = await fetch(`api/${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const parsed = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(parsed.message ?? `${method} ${path} answered ${res.status}`);
  return parsed;
}

/**
 * A view that shows what `path` answers (`draw(container, answer)`) and loads it again, at most
 * every `ms`, when the live stream brings a change it `hears`.
 */
export function reloadingView(path, draw, hears, ms = 150) {
  let body;
  const render = async (container = body) => {
    body = container;
    draw(container, await api(path));
  };
  const refresh = coalesced(() => render().catch(() => undefined), ms);
  return { render, onEvent: (type, payload) => hears(type, payload) && refresh() };
}

/** Says something to screen readers (and shows it): the polite live region. */
export function announce(text) {
  fill(document.getElementById("announce"), text);
}

let current;

function render() {
  const state = params();
  const name = views[state.get("view")] ? state.get("view") : "functions";
  for (const a of document.querySelectorAll("nav a[data-view]")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.dataset.view !== name;
  const section = document.getElementById(`view-${name}`);
  const changed = current !== name;
  current = name;
  if (changed) announce("");
  document.title = `${section.querySelector("h2").textContent} · flxbl-lambda local console`;
  views[name].render(section.querySelector(".view-body"), state).catch((err) => showError(section, err));
  if (changed && document.activeElement?.closest("nav")) section.querySelector("h2").focus();
}

function showError(section, err) {
  fill(
    section.querySelector(".view-body"),
    Object.assign(document.createElement("p"), { className: "error", textContent: err.message }),
  );
}

/** Keeps an invocation, and no more of them than the server does (the oldest started go first). */
function remember(view) {
  store.invocations.set(view.id, view);
  while (store.invocations.size > kept) {
    let oldest;
    for (const v of store.invocations.values()) if (!oldest || v.startedAt < oldest.startedAt) oldest = v;
    store.invocations.delete(oldest.id);
  }
}

const kept = 200;

function listen() {
  const stream = new EventSource("api/events");
  const status = document.getElementById("connection");
  stream.addEventListener("open", () => fill(status, "live"));
  stream.addEventListener("error", () => fill(status, "reconnecting…"));
  for (const type of ["invocation", "job", "rotation"]) {
    stream.addEventListener(type, (event) => {
      const payload = JSON.parse(event.data);
      if (type === "invocation") remember(payload);
      views[current]?.onEvent?.(type, payload, params());
    });
  }
}

/** A section per view, titled as its link in the navigation. */
function sections() {
  const main = document.querySelector("main");
  for (const name of Object.keys(views)) {
    const title = document.querySelector(`nav a[data-view="${name}"]`).textContent;
    main.append(
      el(
        "section",
        { id: `view-${name}`, "data-view": name, "aria-labelledby": `h-${name}`, hidden: true },
        el("h2", { id: `h-${name}`, tabindex: -1 }, title),
        el("div", { class: "view-body" }),
      ),
    );
  }
}

async function start() {
  sections();
  listen();
  const [list, entities] = await Promise.all([api("invocations"), api("data").catch(() => ({ entities: [] }))]);
  for (const view of list.invocations.reverse())
    if (!store.invocations.has(view.id)) store.invocations.set(view.id, view);
  store.entities = entities.entities.map((e) => e.name);
  window.addEventListener("hashchange", render);
  render();
}

start().catch((err) => announce(`The console could not load: ${err.message}`));
