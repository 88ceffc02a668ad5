// Webhooks: send a signed sample event (the samples of `npm run webhook`) and watch it arrive.
import { announce, api, go } from "./app.js";
import { el, fill, link, pre, statusBadge } from "./dom.js";

let webhooks = [];
let body;
let last;

/** What the optional arguments mean for each sample, as `npm run webhook` takes them. */
const argumentHelp = {
  "payments-webhook": "Order id (empty: a new pending order; charge.refunded: the last paid one)",
  "inventory-webhook": "SKU, quantity and version, separated by spaces (empty: TEE-WHT-L 25 <now>)",
};

export async function render(container, state) {
  body = container;
  webhooks = (await api("webhooks")).webhooks;
  draw(state);
}

function draw(state) {
  const chosen = webhooks.find((w) => w.name === state.get("webhook")) ?? webhooks[0];
  if (!chosen) return fill(body, el("p", {}, "The manifest has no webhooks."));
  const typeField = chosen.types.length
    ? el(
        "select",
        { id: "sample-type", name: "type" },
        chosen.types.map((t) => el("option", { value: t }, t)),
      )
    : el("input", { id: "sample-type", name: "type", required: true, placeholder: "e.g. push" });
  const form = el(
    "form",
    { class: "send", "aria-labelledby": "send-title", onsubmit: (e) => send(e, chosen) },
    el("h3", { id: "send-title" }, "Send a signed sample event"),
    el(
      "p",
      { class: "field" },
      el("label", { for: "sample-webhook" }, "Webhook"),
      el(
        "select",
        { id: "sample-webhook", name: "webhook", onchange: (e) => go({ webhook: e.target.value }, { replace: true }) },
        webhooks.map((w) => el("option", { value: w.name, selected: w === chosen }, `${w.name} (${w.signature})`)),
      ),
    ),
    el("p", { class: "field" }, el("label", { for: "sample-type" }, "Event type"), typeField),
    el(
      "p",
      { class: "field" },
      el("label", { for: "sample-args" }, chosen.types.length ? "Arguments (optional)" : "Event data (JSON, optional)"),
      el("input", { id: "sample-args", name: "args", "aria-describedby": "sample-args-help", autocomplete: "off" }),
      el(
        "span",
        { id: "sample-args-help", class: "muted" },
        argumentHelp[chosen.name] ?? 'The event\'s data as JSON, e.g. {"action":"opened"}',
      ),
    ),
    el("p", {}, el("button", { type: "submit" }, "Send")),
  );
  fill(
    body,
    form,
    el("section", { id: "send-result", "aria-live": "polite", "aria-label": "Last sent" }, last ? result(last) : null),
  );
}

function result(sent) {
  return [
    el("h3", {}, "Answer ", statusBadge(sent.status)),
    sent.note ? el("p", {}, sent.note) : null,
    pre(sent.body, "Answer body"),
    sent.invocationId ? el("p", {}, link({ view: "invocations", id: sent.invocationId }, "Open the invocation")) : null,
  ];
}

async function send(event, webhook) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button[type=submit]");
  const type = form.elements.type.value;
  const text = form.elements.args.value.trim();
  const args = text === "" ? [] : webhook.types.length ? text.split(/\s+/) : [text];
  button.disabled = true;
  announce(`Sending ${type} to ${webhook.name}…`);
  try {
    last = await api(`webhooks/${webhook.name}/send`, { method: "POST", body: { type, args } });
    announce(`${webhook.name} answered ${last.status}`);
    if (last.invocationId) go({ view: "invocations", id: last.invocationId, function: null, status: null });
    else fill(document.getElementById("send-result"), result(last));
  } catch (err) {
    announce(`Sending failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}
