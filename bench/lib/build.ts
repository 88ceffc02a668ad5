import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type BuildOptions, build } from "esbuild";

/**
 * Where a function's AWS SDK comes from: `bundled` (this app's choice, as `sst.config.ts`
 * deploys: tree-shaken, the version in package-lock.json) or `external` (`@aws-sdk/*` left to
 * the copy the Lambda runtime ships; here, node_modules). `BENCH_AWS_SDK=external npm run bench`
 * measures the other way; the README's "bundling" paragraph has both.
 */
export const awsSdk: "bundled" | "external" = process.env.BENCH_AWS_SDK === "external" ? "external" : "bundled";

/**
 * esbuild options as SST v2 builds a Node function with this app's defaults
 * (`nodejs: { format: "esm", minify: true, sourcemap: true }`): see `sst/runtime/handlers/node.js`.
 * Everything is bundled, the AWS SDK included, unless `BENCH_AWS_SDK=external` ({@link awsSdk}).
 */
export const sstEsmOptions: BuildOptions = {
  platform: "node",
  bundle: true,
  keepNames: true,
  logLevel: "warning",
  metafile: true,
  format: "esm",
  target: "esnext",
  mainFields: ["module", "main"],
  external: ["sharp", "pg-native", ...(awsSdk === "external" ? ["@aws-sdk/*"] : [])],
  banner: {
    js: [
      `import { createRequire as topLevelCreateRequire } from 'module';`,
      `const require = topLevelCreateRequire(import.meta.url);`,
      `import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"`,
      `const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))`,
      "",
    ].join("\n"),
  },
  sourcemap: true,
  minify: true,
};

/** A built function: where its bundle is and how big. */
export interface Bundle {
  name: string;
  file: string;
  bytes: number;
  gzipBytes: number;
  /** The packages that take the most of the bundle, largest first (bytes in the minified output). */
  largestPackages: Array<{ name: string; bytes: number }>;
}

/** Bundles one handler file as the stack would, into `<outDir>/<name>/index.mjs`. */
export async function bundleFunction(root: string, outDir: string, name: string, entry: string): Promise<Bundle> {
  const file = join(outDir, name, "index.mjs");
  const result = await build({ ...sstEsmOptions, entryPoints: [join(root, entry)], outfile: file });
  const byPackage = new Map<string, number>();
  for (const output of Object.values(result.metafile?.outputs ?? {}))
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = packageOf(input);
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + bytesInOutput);
    }
  const largestPackages = [...byPackage]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([pkg, bytes]) => ({ name: pkg, bytes }));
  return { name, file, bytes: statSync(file).size, gzipBytes: gzipSync(await readFile(file)).length, largestPackages };
}

/** `@scope/name` or `name` for a file under node_modules, the workspace folder otherwise. */
function packageOf(input: string): string {
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input.slice(input.lastIndexOf("node_modules/")));
  if (inModules?.[1]) return inModules[1];
  const workspace = /^packages\/([^/]+)\//.exec(input)?.[1];
  return workspace ? `@flxbl-lambda/${workspace}` : (input.split("/")[0] ?? input);
}

/** Bundles a bench driver (plain, readable) so it runs under `node` with no TypeScript loader. */
export async function bundleDriver(entry: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    outfile,
    platform: "node",
    bundle: true,
    format: "esm",
    target: "node22",
    logLevel: "warning",
  });
  return outfile;
}
