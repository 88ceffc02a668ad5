// Jobs: run one now, watch its progress (from its checkpoint), read the last summaries.
import { announce, api, reloadingView } from "./app.js";
import { button, duration, el, facts, fill, link, relative, statusBadge, table, time, toolbar } from "./dom.js";

export const { render, onEvent } = reloadingView(
  "jobs",
  (body, { jobs }) => fill(body, jobs.length ? jobs.map(card) : el("p", {}, "The manifest has no jobs.")),
  (type, payload) => type === "job" || (type === "invocation" && payload.kind === "job"),
);

const counts = (s) => (s ? `${s.scanned ?? 0} scanned, ${s.changed ?? 0} changed, ${s.failed ?? 0} failed` : "");

function runRow(run) {
  const s = run.summary ?? {};
  return [
    link({ view: "invocations", id: run.invocationId }, time(run.startedAt)),
    statusBadge(run.status),
    duration(run.durationMs),
    String(s.scanned ?? ""),
    String(s.changed ?? ""),
    String(s.unchanged ?? ""),
    String(s.failed ?? ""),
    s.complete === undefined
      ? run.error
        ? `${run.error.name}: ${run.error.message}`
        : ""
      : s.complete
        ? "complete"
        : "to be resumed",
    el("code", {}, s.checkpoint ?? "none"),
    el("code", {}, s.resumedFrom ?? "new run"),
  ];
}

function card(job) {
  const running = job.running;
  return el(
    "article",
    { class: "card", "aria-labelledby": `job-${job.name}` },
    el("h3", { id: `job-${job.name}` }, job.name),
    facts([
      ["Schedule", el("code", {}, job.schedule.expression)],
      [
        "Next run",
        job.schedule.next
          ? el("span", {}, time(job.schedule.next), ` (${relative(job.schedule.next)})`)
          : "no more runs",
      ],
    ]),
    toolbar(
      button(running ? "Running…" : "Run now", () => run(job.name), {
        disabled: Boolean(running),
        "aria-describedby": `progress-${job.name}`,
      }),
    ),
    el(
      "p",
      { id: `progress-${job.name}`, class: "progress", role: "status" },
      running
        ? `Running: ${running.progress ? counts(running.progress) : "starting"}${running.progress?.cursor ? `, checkpoint ${running.progress.cursor}` : ""}`
        : "",
    ),
    table(
      `Last runs of ${job.name}`,
      [
        "Started",
        "Status",
        "Duration",
        "Scanned",
        "Changed",
        "Unchanged",
        "Failed",
        "Run",
        "Checkpoint",
        "Resumed from",
      ],
      job.runs.map(runRow),
      {
        "data-job": job.name,
      },
    ),
  );
}

async function run(name) {
  try {
    await api(`jobs/${name}/run`, { method: "POST" });
    announce(`${name} started`);
  } catch (err) {
    announce(`${name} could not start: ${err.message}`);
  }
}
