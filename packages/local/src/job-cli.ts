import { readRuntimeInfo } from "./runtime-info.js";

/** `npm run job -- <name>`: runs a job now on the running `npm start` and prints its summary. */
async function main() {
  const name = process.argv[2];
  const info = readRuntimeInfo();
  const jobs = Object.entries(info.functions).filter(([, f]) => !f.trigger.startsWith("POST ") && !f.url);
  if (!name || !info.functions[name]) {
    throw new Error(`usage: npm run job -- <name>; jobs: ${jobs.map(([n]) => n).join(", ")}`);
  }
  const res = await fetch(`${info.gatewayUrl}/_local/jobs/${name}`, { method: "POST" });
  console.log(JSON.stringify(await res.json(), null, 2));
  if (!res.ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(2);
});
