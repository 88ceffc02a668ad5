// DOM and formatting helpers shared by the views. Text goes in as text nodes, never as HTML.

/**
 * An element: `el("a", { href: "#x", class: "link" }, "text", child)`. Attributes starting with
 * `on` are listeners; `false`/`null`/`undefined` attributes are left out.
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces a node's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A table with a caption, column headers and one row per item. */
export function table(caption, headers, rows, attributes = {}) {
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      attributes,
      el("caption", {}, caption),
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          headers.map((h) => el("th", { scope: "col" }, h)),
        ),
      ),
      el(
        "tbody",
        {},
        rows.length === 0
          ? el("tr", {}, el("td", { colspan: headers.length, class: "empty" }, "Nothing yet"))
          : rows.map((cells) =>
              el(
                "tr",
                {},
                cells.map((c) => el("td", {}, c)),
              ),
            ),
      ),
    ),
  );
}

/** A definition list of label/value pairs. */
export function facts(pairs) {
  return el(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, v]) => v !== undefined && v !== null && v !== "")
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
  );
}

/** A status as a labelled badge: green for 2xx/ok, red for errors, grey while running. */
export function statusBadge(status) {
  const tone =
    status === "running" ? "running" : status === "ok" || (typeof status === "number" && status < 400) ? "good" : "bad";
  return el("span", { class: `badge ${tone}` }, String(status));
}

/** A yes/no check as a badge with words (not colour alone). */
export function check(ok, yes = "yes", no = "no") {
  return el("span", { class: `badge ${ok ? "good" : "bad"}` }, ok ? yes : no);
}

/** Preformatted text (an event, an answer). */
export const pre = (text, label) => el("pre", { tabindex: 0, "aria-label": label }, text ?? "");

/** `12:04:05` in local time, with the full time as the title. */
export function time(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return el("time", { datetime: iso, title: d.toISOString() }, d.toLocaleTimeString([], { hour12: false }));
}

/** How long ago (or from now) `iso` is, in words. */
export function relative(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const [n, unit] =
    abs < 90
      ? [abs, "s"]
      : abs < 5400
        ? [Math.round(abs / 60), "min"]
        : abs < 172800
          ? [Math.round(abs / 3600), "h"]
          : [Math.round(abs / 86400), "d"];
  return seconds >= 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

export const duration = (ms) => (ms === undefined || ms === null ? "" : `${ms} ms`);

/** A link to a state of the console (view and parameters in the URL's hash). */
export function link(params, text, attributes = {}) {
  return el("a", { href: `#${new URLSearchParams(params)}`, ...attributes }, text);
}

/** A button that runs `onclick`; `attributes` may add `disabled`, `aria-label` and the like. */
export const button = (text, onclick, attributes = {}) =>
  el("button", { type: "button", onclick, ...attributes }, text);

/** A row of buttons. */
export const toolbar = (...buttons) => el("p", { class: "toolbar" }, ...buttons);

/** `fn`, called at most once per `ms` however often the result is called (a burst of events, one refresh). */
export function coalesced(fn, ms) {
  let timer;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, ms);
  };
}
