import { manifest } from "@flxbl-lambda/functions";
import { CliError, request, runCli } from "./cli-kit.js";
import type { RuntimeInfo } from "./runtime.js";
import { gateway, readRuntimeInfo } from "./runtime-info.js";

const jobs: string[] = manifest.filter((spec) => spec.trigger.kind === "schedule").map((spec) => spec.name);

const usage = `usage: npm run job -- <name>

Runs a job now on the running npm start (as its schedule would) and prints its summary.
jobs: ${jobs.join(", ")}`;

runCli(usage, async (args) => {
  const [name, ...extra] = args;
  if (!name) throw new CliError(usage, 2);
  if (extra.length > 0) throw new CliError(`Unexpected arguments: ${extra.join(" ")}\n${usage}`, 2);
  // The running app says what runs (its manifest may have grown since); without one, the manifest.
  let info: RuntimeInfo;
  try {
    info = readRuntimeInfo();
  } catch (err) {
    if (!jobs.includes(name)) throw new CliError(`No job named "${name}". Jobs: ${jobs.join(", ")}`, 2);
    throw err;
  }
  const running = Object.entries(info.functions).flatMap(([n, f]) => (f.url ? [] : [n]));
  if (!running.includes(name))
    throw new CliError(
      `No job named "${name}" in the running npm start. Jobs: ${running.join(", ")}${jobs.includes(name) ? " (restart npm start after editing the manifest)" : ""}`,
      2,
    );
  const res = await request(`${info.gatewayUrl}/_local/jobs/${name}`, { method: "POST" }, gateway);
  const text = await res.text();
  try {
    console.log(JSON.stringify(JSON.parse(text), null, 2));
  } catch {
    console.log(text);
  }
  if (!res.ok) process.exitCode = 1;
});
