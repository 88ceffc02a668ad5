/**
 * Summarises a V8 CPU profile (`BENCH_CPU_PROF=1 npm run bench` writes one per function process
 * to `bench/.out/profiles/`): self time by package and by function, the heaviest first. Code in
 * a bundle is charged to its original package through the bundle's source map.
 *
 *   npx tsx bench/profile-summary.ts bench/.out/profiles/<name>.cpuprofile [top]
 */
import { existsSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const sourceMaps = new Map<string, SourceMap | undefined>();

/** Where a profile node's code came from: the original file for bundled code, else its URL. */
function originalUrl(node: ProfileNode): string {
  const { url, lineNumber, columnNumber } = node.callFrame;
  if (!url.startsWith("file://") || !url.endsWith(".mjs")) return url;
  if (!sourceMaps.has(url)) {
    const mapFile = `${fileURLToPath(url)}.map`;
    sourceMaps.set(url, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, "utf8"))) : undefined);
  }
  const entry = sourceMaps.get(url)?.findEntry(lineNumber, columnNumber);
  return entry && "originalSource" in entry ? entry.originalSource : url;
}

/** node_modules package, workspace package, node internals, or a V8 bucket ((idle), (garbage collector)). */
function packageOf(node: ProfileNode): string {
  const url = originalUrl(node);
  if (url === "") return node.callFrame.functionName.startsWith("(") ? node.callFrame.functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url.slice(url.lastIndexOf("node_modules/")))?.[1];
  if (pkg) return pkg;
  const workspace = /\/packages\/([^/]+)\//.exec(url)?.[1];
  if (workspace) return `@flxbl-lambda/${workspace}`;
  if (url.startsWith("node:")) return "node (internals)";
  return url.split("/").slice(-2).join("/");
}

/** Self time in microseconds by `key(node)`, heaviest first, and the total. */
export function selfTimeBy(profile: Profile, key: (node: ProfileNode) => string) {
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const rows = new Map<string, number>();
  for (const node of profile.nodes) rows.set(key(node), (rows.get(key(node)) ?? 0) + (selfUs.get(node.id) ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  return { total, rows: [...rows].sort((a, b) => b[1] - a[1]) };
}

function main() {
  const [file, topArg] = process.argv.slice(2);
  if (!file) {
    console.error("usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const top = Number(topArg ?? 25);
  const byFunction = (node: ProfileNode) =>
    `${node.callFrame.functionName || "(anonymous)"}  ${originalUrl(node).split("/").slice(-2).join("/")}`;
  for (const [title, key] of [
    ["by package", packageOf],
    ["by function", byFunction],
  ] as const) {
    const { total, rows } = selfTimeBy(profile, key);
    console.log(`\n${title} (self time; ${(total / 1000).toFixed(0)} ms sampled)`);
    for (const [name, us] of rows.slice(0, top))
      console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${name}`);
  }
}

main();
