import { type AttributeValue, GetItemCommand } from "@aws-sdk/client-dynamodb";
import type { ConsoleContext } from "./context.js";
import { nextRun } from "./functions-api.js";
import { maskValue } from "./mask.js";
import type { InvocationView } from "./recorder.js";

/** A running job's counts, read from its checkpoint in the state table while it runs. */
export interface JobProgress {
  scanned: number;
  changed: number;
  unchanged: number;
  failed: number;
  /** The checkpoint cursor: the last record done in order. */
  cursor: string | null;
  at: string;
}

/** A finished run of a job, as the console lists it. */
export interface JobRun {
  invocationId: string;
  startedAt: string;
  durationMs?: number;
  status: InvocationView["status"];
  /** The job's summary (totals, checkpoint, resumedFrom, failures), or the error. */
  summary?: unknown;
  error?: { name: string; message: string };
}

const keptRuns = 10;
const pollMs = 250;

/**
 * The jobs' runs: progress while one runs (its checkpoint in the state table, polled), and the
 * last {@link keptRuns} summaries of each, whoever started them (the schedule, `npm run job`, the console).
 */
export class Jobs {
  readonly #runs = new Map<string, JobRun[]>();
  readonly #progress = new Map<string, { invocationId: string; progress?: JobProgress }>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(private readonly ctx: ConsoleContext) {
    this.#unsubscribe = ctx.recorder.subscribe((event) => {
      if (event.type === "invocation" && event.data.kind === "job") this.#heard(event.data);
    });
  }

  #heard(view: InvocationView): void {
    if (view.status === "running") {
      if (this.#progress.get(view.function)?.invocationId !== view.id) {
        this.#progress.set(view.function, { invocationId: view.id });
        this.#poll(view.function, view.id);
      }
      return;
    }
    if (this.#progress.get(view.function)?.invocationId === view.id) this.#progress.delete(view.function);
    const runs = (this.#runs.get(view.function) ?? []).filter((r) => r.invocationId !== view.id);
    runs.unshift({
      invocationId: view.id,
      startedAt: view.startedAt,
      durationMs: view.durationMs,
      status: view.status,
      ...(view.answer?.value !== undefined ? { summary: view.answer.value } : {}),
      ...(view.error ? { error: view.error } : {}),
    });
    this.#runs.set(view.function, runs.slice(0, keptRuns));
  }

  #poll(job: string, invocationId: string): void {
    if (this.#closed) return;
    const timer = setTimeout(async () => {
      this.#timers.delete(timer);
      const current = this.#progress.get(job);
      if (current?.invocationId !== invocationId) return;
      // Ended, or gone from the history (200 newer invocations) before its end was heard: stop.
      const view = this.ctx.recorder.get(invocationId);
      if (view?.status !== "running") {
        this.#progress.delete(job);
        return;
      }
      const progress = await this.#checkpoint(job).catch(() => undefined);
      // Told only when it moved: the checkpoint is saved at each page and every few seconds.
      if (progress && this.#progress.get(job) === current && !sameCounts(progress, current.progress)) {
        current.progress = progress;
        this.ctx.recorder.publish({ type: "job", data: { name: job, invocationId, progress } });
      }
      this.#poll(job, invocationId);
    }, pollMs);
    this.#timers.add(timer);
  }

  /** The run's saved totals and cursor (`job#<name>` in the state table), if a run is saved. */
  async #checkpoint(job: string): Promise<JobProgress | undefined> {
    const out = await this.ctx.state.client.send(
      new GetItemCommand({
        TableName: this.ctx.state.tableName,
        Key: { id: { S: `job#${job}` } },
        ConsistentRead: true,
      }),
    );
    const totals = out.Item?.totals?.M;
    if (!totals) return undefined;
    const count = (v: AttributeValue | undefined) => Number(v?.N ?? 0);
    return {
      scanned: count(totals.scanned),
      changed: count(totals.changed),
      unchanged: count(totals.unchanged),
      failed: count(totals.failed),
      cursor: out.Item?.cursor?.S ?? null,
      at: new Date().toISOString(),
    };
  }

  /** Every job: its schedule and next run, the run going on (with progress), the last summaries. */
  list(now = new Date()) {
    return this.ctx.manifest.flatMap((spec) =>
      spec.trigger.kind === "schedule"
        ? [
            {
              name: spec.name,
              schedule: { expression: spec.trigger.expression, next: nextRun(spec.trigger.expression, now) },
              running: maskValue(this.#progress.get(spec.name)),
              runs: this.#runs.get(spec.name) ?? [],
            },
          ]
        : [],
    );
  }

  /** Starts the job now; answers the invocation's id (its summary arrives on the event stream). */
  run(name: string): { invocationId: string | undefined; requestId: string } {
    const { requestId, done } = this.ctx.runJob(name);
    done.catch(() => undefined);
    const view = this.ctx.recorder.list().find((v) => v.requestId === requestId);
    return { requestId, invocationId: view?.id };
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#progress.clear();
  }
}

const sameCounts = (a: JobProgress, b: JobProgress | undefined) =>
  b !== undefined &&
  a.scanned === b.scanned &&
  a.changed === b.changed &&
  a.failed === b.failed &&
  a.cursor === b.cursor;
