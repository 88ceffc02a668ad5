import { startRotation } from "@flxbl-lambda/core";
import { readSecret } from "@flxbl-lambda/provisioning";
import { keyStatuses } from "../key-status.js";
import { adminOf, type ConsoleContext } from "./context.js";
import { ConsoleRequestError, known } from "./http.js";

/** A rotation the console started, as `npm run keys -- rotate` starts one (`RotateSecret`). */
export interface RotationView {
  function: string;
  startedAt: string;
  state: "running" | "promoted" | "failed";
  /** The new secret version. */
  versionId?: string;
  /** The key the secret held before (an id), and when the console saw FLXBL no longer list it. */
  oldKeyId?: string;
  oldKeyRevokedAt?: string;
  error?: string;
  /** The rotation function's steps (`createSecret` ... `finishSecret`) for this secret since it started. */
  steps: Array<{ step: string; invocationId: string; status: string | number; durationMs?: number; at: string }>;
}

const watchEveryMs = 500;

/**
 * Rotations started from the console: one at a time per function, each followed from
 * `RotateSecret` through the rotation function's four steps to the old key's revocation (FLXBL no
 * longer lists it), which comes after the grace period.
 */
export class Rotations {
  readonly #byFunction = new Map<string, Omit<RotationView, "steps">>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(private readonly ctx: ConsoleContext) {}

  /** Starts rotating `fn`'s key now; 409 while one is running. */
  async start(fn: string): Promise<RotationView> {
    known(
      "function",
      fn,
      this.ctx.manifest.map((s) => s.name),
    );
    if (this.#byFunction.get(fn)?.state === "running")
      throw new ConsoleRequestError(409, `A rotation of ${fn}'s key is running; wait for it to finish`);
    const secretName = this.ctx.secretName(fn);
    const before = await readSecret(this.ctx.secrets, secretName);
    const rotation: Omit<RotationView, "steps"> = {
      function: fn,
      startedAt: new Date().toISOString(),
      state: "running",
      ...(before?.keyId ? { oldKeyId: before.keyId } : {}),
    };
    this.#byFunction.set(fn, rotation);
    this.#changed(fn);
    startRotation(this.ctx.secrets, secretName, { waitMs: 120_000, pollMs: 200 }).then(
      (outcome) => {
        rotation.versionId = outcome.versionId;
        rotation.state = outcome.promoted ? "promoted" : "failed";
        if (!outcome.promoted)
          rotation.error = `version ${outcome.versionId} did not become AWSCURRENT: see the rotate-key invocations`;
        this.#changed(fn);
        if (outcome.promoted && rotation.oldKeyId) this.#watchRevocation(fn, rotation);
      },
      (err: unknown) => {
        rotation.state = "failed";
        rotation.error = `RotateSecret failed: ${(err as Error).message}`;
        this.#changed(fn);
      },
    );
    return this.view(fn) as RotationView;
  }

  /** Polls FLXBL's key list until the old key is gone (the grace period, plus a margin). */
  #watchRevocation(fn: string, rotation: Omit<RotationView, "steps">): void {
    const until = Date.now() + (this.ctx.graceSeconds + 60) * 1000;
    const check = async () => {
      if (this.#closed) return;
      const listed = await adminOf(this.ctx)
        .listKeys()
        .catch(() => undefined);
      if (listed && !listed.some((k) => k.id === rotation.oldKeyId)) {
        rotation.oldKeyRevokedAt = new Date().toISOString();
        this.#changed(fn);
        return;
      }
      if (Date.now() < until) this.#later(check);
    };
    this.#later(check);
  }

  #later(fn: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void fn();
    }, watchEveryMs);
    this.#timers.add(timer);
  }

  #changed(fn: string): void {
    this.ctx.recorder.publish({ type: "rotation", data: this.view(fn) });
  }

  /** The last rotation of `fn` started here, with its steps. */
  view(fn: string): RotationView | undefined {
    const rotation = this.#byFunction.get(fn);
    if (!rotation) return undefined;
    const secretName = this.ctx.secretName(fn);
    const steps = this.ctx.recorder
      .list()
      .filter((v) => v.kind === "rotation" && v.startedAt >= rotation.startedAt && namesSecret(v.trigger, secretName))
      .reverse()
      .map((v) => ({
        step: v.trigger.split(" ")[0] ?? v.trigger,
        invocationId: v.id,
        status: v.status,
        durationMs: v.durationMs,
        at: v.startedAt,
      }));
    return { ...rotation, steps };
  }

  /** Every function's key status with its last console rotation. */
  async keys() {
    const statuses = await keyStatuses(this.ctx.manifest, {
      secrets: this.ctx.secrets,
      admin: adminOf(this.ctx),
      secretName: this.ctx.secretName,
    });
    return statuses.map((status) => ({ ...status, rotation: this.view(status.function) }));
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
  }
}

/**
 * Whether a rotation invocation's trigger (`<Step> <secret id>`) is for this secret: its name, or
 * its ARN's name part with the 6-character suffix Secrets Manager appends.
 */
function namesSecret(trigger: string, secretName: string): boolean {
  const id = trigger.split(" ")[1] ?? "";
  return id === secretName || (id.startsWith(`${secretName}-`) && id.length === secretName.length + 7);
}
