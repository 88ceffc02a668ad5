import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { FunctionSpec } from "@flxbl-lambda/core";
import { Template } from "aws-cdk-lib/assertions";
import { App, Stack } from "sst/constructs";
import { initProject, useProject } from "sst/project.js";

/**
 * Synthesizes the app's CloudFormation templates with no AWS credentials, the way SST's own stack
 * tests do (`initProject` + `App`), so stacks can be checked on any machine. Like `sst deploy`, it
 * reads `.env` over the environment unless `dotenv: false`.
 *
 * @example
 * ```ts
 * import type { Template } from "aws-cdk-lib/assertions";
 *
 * const { templates } = await synthesize({ stage: "test" });
 * (templates.Webhooks as Template).hasResourceProperties("AWS::ApiGatewayV2::Route", { RouteKey: "POST /webhooks/payments" });
 * ```
 */
export async function synthesize(options: { stage?: string; stacks?: (app: App) => void; dotenv?: boolean } = {}) {
  const before = { ...process.env };
  await initProject({ stage: options.stage ?? "synth", region: "us-east-1" });
  // initProject loads .env (and .env.<stage>) over the environment, as sst deploy does. Tests
  // pass dotenv: false, so a developer's own .env cannot change what they check.
  if (options.dotenv === false) {
    for (const name of Object.keys(process.env)) if (!(name in before)) delete process.env[name];
    Object.assign(process.env, before);
  }
  const { config } = useProject();
  const app = new App({ mode: "deploy", name: config.name, stage: config.stage, region: config.region });
  // initProject reads sst.config.ts shallowly (without its stacks), so they are taken from it here.
  if (options.stacks) options.stacks(app);
  else await (await import("../sst.config.js")).default.stacks(app);
  const templates: Record<string, Template> = {};
  for (const child of app.node.children) {
    // Keyed by the stack function's name (`Webhooks`), not the prefixed stack name.
    if (child instanceof Stack) templates[child.node.id.split("-").at(-1) as string] = Template.fromStack(child);
  }
  return { app, templates };
}

const describeTrigger = (spec: FunctionSpec) =>
  spec.trigger.kind === "http" ? `${spec.trigger.method} ${spec.trigger.path}` : spec.trigger.expression;

async function main() {
  const out = resolve(process.argv[2] ?? ".build/synth");
  const { templates } = await synthesize({ stage: process.env.SST_STAGE ?? "synth" });
  mkdirSync(out, { recursive: true });
  for (const [id, template] of Object.entries(templates)) {
    writeFileSync(join(out, `${id}.template.json`), `${JSON.stringify(template.toJSON(), null, 2)}\n`);
  }
  const { manifest } = await import("@flxbl-lambda/functions");
  console.log(`Wrote ${Object.keys(templates).length} templates to ${out}: ${Object.keys(templates).join(", ")}\n`);
  const rows = manifest.map((spec) => [spec.name, describeTrigger(spec), spec.scopes.join(" ")]);
  const widths = [0, 1, 2].map((i) =>
    Math.max(...[["function", "trigger", "scopes"], ...rows].map((r) => (r[i] ?? "").length)),
  );
  for (const row of [["function", "trigger", "scopes"], ...rows]) {
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
