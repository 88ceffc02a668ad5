import { parseSchedule, type WebhookSpec } from "@flxbl-lambda/core";
import { type KeyStatus, keyStatuses } from "../key-status.js";
import { adminOf, type ConsoleContext } from "./context.js";

/** A function as the console lists it. */
export interface FunctionView {
  name: string;
  kind: "webhook" | "job";
  /** `POST /webhooks/payments` or the schedule expression. */
  trigger: string;
  route?: { method: string; path: string; url: string };
  schedule?: { expression: string; next: string | null };
  scopes: readonly string[];
  signature?: string;
  key: Omit<KeyStatus, "function" | "secretName"> | { error: string };
  lastInvocation?: { id: string; startedAt: string; status: number | string; durationMs?: number };
}

/** Every manifest function: trigger (a schedule with its next run), scopes, key health, last invocation. */
export async function listFunctions(ctx: ConsoleContext, now = new Date()): Promise<FunctionView[]> {
  const info = ctx.info();
  let keys: KeyStatus[] | undefined;
  let keyError = "";
  try {
    keys = await keyStatuses(ctx.manifest, { secrets: ctx.secrets, admin: adminOf(ctx), secretName: ctx.secretName });
  } catch (err) {
    keyError = `could not check keys: ${(err as Error).message}`;
  }
  const invocations = ctx.recorder.list();
  return ctx.manifest.map((spec) => {
    const last = invocations.find((i) => i.function === spec.name);
    const status = keys?.find((k) => k.function === spec.name);
    const { function: _fn, secretName: _secret, ...key } = status ?? ({} as KeyStatus);
    const common = {
      name: spec.name,
      scopes: spec.scopes,
      key: status ? key : { error: keyError || "no key status" },
      ...(last
        ? {
            lastInvocation: {
              id: last.id,
              startedAt: last.startedAt,
              status: last.status,
              durationMs: last.durationMs,
            },
          }
        : {}),
    };
    if (spec.trigger.kind === "http") {
      const { method, path } = spec.trigger;
      return {
        ...common,
        kind: "webhook",
        trigger: `${method} ${path}`,
        route: { method, path, url: `${info.gatewayUrl}${path}` },
        signature: (spec as WebhookSpec).signature,
      };
    }
    return {
      ...common,
      kind: "job",
      trigger: spec.trigger.expression,
      schedule: { expression: spec.trigger.expression, next: nextRun(spec.trigger.expression, now) },
    };
  });
}

/** The schedule's next run after `now` (ISO 8601), or null when it has no more. */
export function nextRun(expression: string, now: Date): string | null {
  try {
    return parseSchedule(expression, now).next(now).toISOString();
  } catch {
    return null;
  }
}
