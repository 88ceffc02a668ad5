// Keys: each function's key health, and rotating one now (as `npm run keys -- rotate` does).
import { announce, api, reloadingView } from "./app.js";
import { button, check, duration, el, facts, fill, link, relative, statusBadge, table, time } from "./dom.js";

export const { render, onEvent } = reloadingView(
  "keys",
  (body, { keys }) => draw(body, keys),
  (type, payload) => type === "rotation" || (type === "invocation" && payload.kind === "rotation"),
  200,
);

function rotation(key) {
  const r = key.rotation;
  if (!r) return null;
  const revoked = r.oldKeyRevokedAt
    ? el("span", {}, check(true, "revoked"), " ", time(r.oldKeyRevokedAt))
    : r.state === "promoted"
      ? "still working: revoked after the grace period"
      : "";
  return el(
    "section",
    { class: "rotation", "aria-label": `Rotation of ${key.function}` },
    el(
      "h4",
      {},
      `Rotation started ${relative(r.startedAt)}: `,
      el(
        "span",
        { class: `badge ${r.state === "failed" ? "bad" : r.state === "promoted" ? "good" : "running"}` },
        r.state,
      ),
    ),
    facts([
      ["New version", r.versionId ? el("code", {}, r.versionId) : null],
      ["Old key", r.oldKeyId ? el("code", {}, r.oldKeyId) : null],
      ["Old key revoked", revoked],
      ["Error", r.error],
    ]),
    el(
      "ol",
      { class: "steps", "aria-label": "Rotation steps" },
      r.steps.map((s) =>
        el(
          "li",
          {},
          el("strong", {}, s.step),
          " ",
          statusBadge(s.status),
          " ",
          duration(s.durationMs),
          " ",
          link({ view: "invocations", id: s.invocationId }, "log"),
        ),
      ),
    ),
  );
}

function draw(body, keys) {
  const rows = keys.map((k) => [
    k.function,
    check(k.secret === "yes", "yes", k.secret),
    check(k.hasKey),
    check(k.works),
    check(k.scopes === "match", "match", k.scopes),
    k.keyId ? el("code", {}, k.keyId) : "",
    k.versionId
      ? el("span", {}, el("code", { title: k.versionId }, k.versionId.slice(0, 8)), ` ${relative(k.versionCreated)}`)
      : "",
    el("span", { "data-health": k.function }, check(k.healthy, "healthy", "unhealthy")),
    button("Rotate now", () => rotate(k.function), {
      disabled: k.rotation?.state === "running",
      "aria-label": `Rotate ${k.function}'s key now`,
    }),
  ]);
  fill(
    body,
    table(
      "Each function's FLXBL key (the key itself never leaves the server)",
      ["Function", "Secret", "Key", "Works", "Scopes", "Key id", "Version", "Health", "Rotate"],
      rows,
      { id: "keys-table" },
    ),
    keys.map(rotation),
  );
}

async function rotate(fn) {
  try {
    await api(`keys/${fn}/rotate`, { method: "POST" });
    announce(`Rotating ${fn}'s key`);
    await render();
  } catch (err) {
    announce(`Rotation of ${fn} could not start: ${err.message}`);
  }
}
