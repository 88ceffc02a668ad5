/**
 * Every ```ts / ```typescript block in the repo's Markdown files and in the `@example` tags of
 * its sources (packages/*\/src, stacks, bench, sst.config.ts; not tests) compiles: one program
 * holds every snippet as a virtual file over the real tree, with the root tsconfig's options and
 * its module resolution, so `@flxbl-lambda/core` in a snippet is the package's real source.
 *
 * What a snippet is compiled as:
 * - First line `// <path from the repo root>` (Markdown only): that file, at that path, so its
 *   relative imports resolve (it replaces the real file if there is one); `// <path> (add ...)`:
 *   an addition, compiled as the real file with the snippet appended (or, where the file declares
 *   the snippet's names already, because a reader followed the recipe, in their place).
 * - Any other Markdown snippet with an `import`: a complete module, compiled as is beside the file
 *   it is written in.
 * - Anything else (most TSDoc examples) is a fragment, compiled as a module beside its file
 *   (top-level `await` works; wrapped in an async function when it `return`s) that may use,
 *   without declaring or importing them, what its own source file and its package's index export
 *   and the few names `preamble` declares (`orders`, `logger`, `env`...). It may import anything
 *   else it needs (`node:crypto`, `zod/mini`).
 * Unused locals and parameters are allowed (an example may bind a value only to show it); every
 * other compiler option is the repo's. Other fences (```sh, ```json, ```text) are not compiled.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repoRoot = resolve(fileURLToPath(new URL("../", import.meta.url)));
const at = (path: string) => join(repoRoot, path);

/**
 * The free names fragments may use: things an example's reader already has in hand. Typed as
 * the app has them, so a wrong call on one is an error.
 */
const preamble = `
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type {
  EntityClient,
  FlxblAdmin,
  FlxblClient,
  FunctionEnv,
  JobSummary,
  ScopeAuthority,
  SecretLoader,
  WebhookHandlerContext,
  WebhookSpec,
} from "@flxbl-lambda/core";
import type { Order, Product } from "@flxbl-lambda/functions";
import type { MiddyfiedHandler } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";

// The app: its entities, manifest and entries, and the functions README's GitHub webhook.
export type { Order, OrderStatus, Product, StockAlert } from "@flxbl-lambda/functions";
export { appName, expireStaleOrders, manifest, paymentsWebhook } from "@flxbl-lambda/functions";
export const githubWebhook = {
  name: "github-webhook",
  handler: "packages/functions/src/webhooks/github.handler",
  trigger: { kind: "http", method: "POST", path: "/webhooks/github" },
  signature: "github",
  scopes: ["entity:Product:read"],
  timeoutSeconds: 10,
} as const satisfies WebhookSpec;

// What a function has in hand.
export declare const spec: WebhookSpec;
export declare const env: FunctionEnv;
export declare const handler: MiddyfiedHandler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>;
export declare const job: MiddyfiedHandler<unknown, JobSummary, Error, Context>;
export declare const event: APIGatewayProxyEventV2;
export declare const context: WebhookHandlerContext;
export declare const logger: WebhookHandlerContext["logger"];
export declare const client: FlxblClient;
export declare const orders: EntityClient<Order>;
export declare const products: EntityClient<Product>;
export declare const orderId: string;
export declare const productId: string;
export declare const err: unknown;
/** A delivery's raw body, and a signing secret of its sender. */
export declare const rawBody: string;
export declare const body: string;
export declare const secret: string;
// Keys and rotation.
export declare const secretId: string;
export declare const loader: SecretLoader;
export declare const secrets: SecretsManagerClient;
export declare const admin: FlxblAdmin;
export declare const scopesFor: ScopeAuthority;
`;
const preamblePath = at("test/doc-examples.preamble.ts");

/** One code block: the file it is written in (from the repo root) and the line of its first code line. */
interface Snippet {
  file: string;
  line: number;
  code: string;
  /** Per code line, how many characters before it were cut (fence indent, ` * `). */
  cut: number[];
  kind: "markdown" | "tsdoc";
}

const skippedDirs = new Set(["node_modules", ".git", ".sst", ".build", ".flxbl-local", "cdk.out"]);

function walk(dir: string, keep: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return skippedDirs.has(entry.name) ? [] : walk(path, keep);
    return keep(entry.name) ? [path] : [];
  });
}

interface Block {
  lang: string;
  /** Index of the first body line. */
  start: number;
  /** The body's lines, the fence's indent removed, and how many characters that was per line. */
  body: string[];
  cut: number[];
}

/** The fenced blocks of some lines. */
function fencedBlocks(lines: readonly string[]): Block[] {
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i] ?? "");
    if (!open) continue;
    const [, indent = "", fence = "", lang = ""] = open;
    const close = new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`);
    const block: Block = { lang: lang.toLowerCase(), start: i + 1, body: [], cut: [] };
    let j = i + 1;
    for (; j < lines.length && !close.test(lines[j] ?? ""); j++) {
      const line = lines[j] ?? "";
      const kept = line.startsWith(indent) ? line.slice(indent.length) : line.trimStart();
      block.body.push(kept);
      block.cut.push(line.length - kept.length);
    }
    blocks.push(block);
    i = j;
  }
  return blocks;
}

const isTypeScript = (lang: string) => lang === "ts" || lang === "typescript";

function markdownSnippets(path: string): Snippet[] {
  const lines = readFileSync(path, "utf8").split(/\r?\n/);
  return fencedBlocks(lines)
    .filter((b) => isTypeScript(b.lang))
    .map((b) => ({
      file: relative(repoRoot, path),
      line: b.start + 1,
      code: b.body.join("\n"),
      cut: b.cut,
      kind: "markdown",
    }));
}

/** The ```ts blocks of every `@example` tag in a source file, read through the compiler's JSDoc parser. */
function tsdocSnippets(path: string): Snippet[] {
  const text = readFileSync(path, "utf8");
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const tags = new Map<number, ts.JSDocTag>();
  const visit = (node: ts.Node) => {
    for (const doc of ts.getJSDocCommentsAndTags(node))
      for (const tag of ts.isJSDoc(doc) ? (doc.tags ?? []) : [doc])
        if (tag.tagName.text === "example") tags.set(tag.pos, tag);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return [...tags.values()].flatMap((tag) => {
    const first = source.getLineAndCharacterOfPosition(tag.pos).line;
    const raw = text
      .slice(tag.pos, tag.end)
      .replace(/\*\/\s*$/, "")
      .split(/\r?\n/);
    const lines = raw.map((line) => line.replace(/^\s*\*(?: |$)/, ""));
    return fencedBlocks(lines)
      .filter((b) => isTypeScript(b.lang))
      .map((b) => ({
        file: relative(repoRoot, path),
        line: first + b.start + 1,
        code: b.body.join("\n"),
        cut: b.cut.map((n, i) => n + (raw[b.start + i]?.length ?? 0) - (lines[b.start + i]?.length ?? 0)),
        kind: "tsdoc" as const,
      }));
  });
}

const markdownFiles = walk(repoRoot, (name) => name.endsWith(".md"));
const sourceFiles = [
  ...readdirSync(at("packages")).flatMap((p) => walk(at(`packages/${p}/src`), (n) => n.endsWith(".ts"))),
  ...walk(at("stacks"), (n) => n.endsWith(".ts")),
  ...walk(at("bench"), (n) => n.endsWith(".ts")),
  at("sst.config.ts"),
].filter((path) => !/\.(test|d)\.ts$/.test(path));

const snippets = [...markdownFiles.flatMap(markdownSnippets), ...sourceFiles.flatMap(tsdocSnippets)];

/** Where a Markdown snippet says it lives: `// <path>` or `// <path> (add ...)`. */
function location(snippet: Snippet): { path: string; add: boolean } | undefined {
  if (snippet.kind !== "markdown") return undefined;
  const first = snippet.code.split("\n", 1)[0] ?? "";
  const named = /^\/\/\s*([\w.@/-]+\.[cm]?ts)\b(.*)$/.exec(first);
  if (!named) return undefined;
  const [, path = "", rest = ""] = named;
  const add = /^\s*\(add\b.*\)\s*$/.test(rest);
  if (rest.trim() !== "" && !add)
    throw new Error(`${snippet.file}:${snippet.line}: write "// ${path}" or "// ${path} (add ...)", not "${first}"`);
  if (!existsSync(dirname(at(path))))
    throw new Error(`${snippet.file}:${snippet.line}: ${dirname(path)} is not a folder of the repo`);
  if (add && !existsSync(at(path)))
    throw new Error(`${snippet.file}:${snippet.line}: ${path} does not exist to be added to`);
  return { path: at(path), add };
}

/** The names a snippet declares or imports at its top level, and every identifier it mentions. */
function namesOf(code: string): { declared: Set<string>; used: Set<string>; imports: boolean; returns: boolean } {
  const source = ts.createSourceFile("snippet.ts", code, ts.ScriptTarget.Latest, true);
  const declared = new Set<string>();
  const bind = (name: ts.BindingName) => {
    if (ts.isIdentifier(name)) declared.add(name.text);
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) bind(element.name);
  };
  let imports = false;
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement)) for (const d of statement.declarationList.declarations) bind(d.name);
    else if (ts.isImportDeclaration(statement) || ts.isImportEqualsDeclaration(statement)) {
      imports = true;
      if (ts.isImportEqualsDeclaration(statement)) declared.add(statement.name.text);
      const clause = ts.isImportDeclaration(statement) ? statement.importClause : undefined;
      if (clause?.name) declared.add(clause.name.text);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) declared.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings)) for (const e of bindings.elements) declared.add(e.name.text);
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isEnumDeclaration(statement)) &&
      statement.name
    )
      declared.add(statement.name.text);
  }
  const used = new Set<string>();
  let returns = false;
  const visit = (node: ts.Node, inFunction: boolean) => {
    if (ts.isIdentifier(node)) used.add(node.text);
    if (ts.isReturnStatement(node) && !inFunction) returns = true;
    ts.forEachChild(node, (child) => visit(child, inFunction || ts.isFunctionLike(node) || ts.isClassLike(node)));
  };
  visit(source, false);
  return { declared, used, imports, returns };
}

/** A snippet as a virtual file: its path, its text and the line of that text its first line is on. */
interface Unit {
  snippet: Snippet;
  path: string;
  firstLine: number;
  /** For an addition: how many of the real file's lines come before it (they keep their numbers). */
  realLines?: number;
}

const packageOf = (path: string) => /^packages\/[^/]+/.exec(relative(repoRoot, path))?.[0];

const importPath = (from: string, to: string) => {
  const path = relative(dirname(from), to).replace(/\.ts$/, ".js");
  return path.startsWith(".") ? path : `./${path}`;
};

/** Everything a module exports, by name, with whether it is a value (or only a type). */
function exportsOf(checker: ts.TypeChecker, file: ts.SourceFile | undefined): Map<string, boolean> {
  const symbol = file && checker.getSymbolAtLocation(file);
  const exported = new Map<string, boolean>();
  if (!symbol) return exported;
  for (const e of checker.getExportsOfModule(symbol)) {
    const target = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
    if (e.name !== "default") exported.set(e.name, (target.flags & ts.SymbolFlags.Value) !== 0);
  }
  return exported;
}

/**
 * The real file system with `files` laid over it; source files are parsed once for both programs.
 * With `repoOnly`, imports resolve only to the repo's own sources (workspace packages included).
 */
function overlayHost(
  options: ts.CompilerOptions,
  files: ReadonlyMap<string, string>,
  parsed: Map<string, ts.SourceFile>,
  repoOnly: boolean,
): ts.CompilerHost {
  const host = ts.createCompilerHost(options, true);
  // JSDoc in .ts and .d.ts files is not needed to type-check them, and skipping it saves ~20%.
  host.jsDocParsingMode = ts.JSDocParsingMode.ParseForTypeErrors;
  const real = { getSourceFile: host.getSourceFile, fileExists: host.fileExists, readFile: host.readFile };
  host.fileExists = (path) => files.has(path) || real.fileExists(path);
  host.readFile = (path) => files.get(path) ?? real.readFile(path);
  host.getSourceFile = (path, language, onError) => {
    let source = parsed.get(path);
    if (!source) {
      const text = files.get(path);
      source =
        text === undefined ? real.getSourceFile(path, language, onError) : ts.createSourceFile(path, text, language);
      if (source) parsed.set(path, source);
    }
    return source;
  };
  if (repoOnly)
    host.resolveModuleNameLiterals = (literals, containingFile, redirectedReference, compilerOptions) =>
      literals.map((literal) => {
        const resolved = ts.resolveModuleName(
          literal.text,
          containingFile,
          compilerOptions,
          host,
          undefined,
          redirectedReference,
        );
        const file = resolved.resolvedModule?.resolvedFileName;
        return file?.startsWith(repoRoot) && !file.includes("/node_modules/")
          ? resolved
          : { resolvedModule: undefined };
      });
  return host;
}

interface Compiled {
  program: ts.Program;
  units: Unit[];
  /** The virtual files by path, and the snippets placed in each. */
  byPath: Map<string, Unit[]>;
  /** Snippets whose location comment is wrong, with why. */
  misplaced: Map<Snippet, string>;
}

function compileAll(): Compiled {
  const config = ts.getParsedCommandLineOfConfigFile(
    at("tsconfig.json"),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      },
    },
  );
  if (!config) throw new Error("cannot read tsconfig.json");
  const options: ts.CompilerOptions = { ...config.options, noUnusedLocals: false, noUnusedParameters: false };

  const files = new Map<string, string>([[preamblePath, preamble]]);
  const parsed = new Map<string, ts.SourceFile>();

  // Whole files and additions first: fragments and the first program see them.
  const units: Unit[] = [];
  const additions = new Map<string, Snippet[]>();
  const fragments: Snippet[] = [];
  const misplaced = new Map<Snippet, string>();
  for (const snippet of snippets) {
    let where: ReturnType<typeof location>;
    try {
      where = location(snippet);
    } catch (err) {
      misplaced.set(snippet, (err as Error).message);
      continue;
    }
    if (where?.add) additions.set(where.path, [...(additions.get(where.path) ?? []), snippet]);
    else if (where) {
      if (files.has(where.path)) throw new Error(`${snippet.file}:${snippet.line}: another snippet is ${where.path}`);
      files.set(where.path, snippet.code);
      units.push({ snippet, path: where.path, firstLine: 0 });
    } else fragments.push(snippet);
  }
  for (const [path, added] of additions) {
    let text = readFileSync(path, "utf8").replace(/\n?$/, "\n");
    for (const snippet of added) {
      // A file that has the addition already (its reader followed the recipe) gets the snippet in
      // place of its own declarations of the same names; any other gets it appended.
      const names = namesOf(snippet.code).declared;
      const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
      const clashes = source.statements.filter(
        (st) => !ts.isImportDeclaration(st) && [...namesOf(st.getText()).declared].some((n) => names.has(n)),
      );
      const splice = clashes[0]?.getStart() ?? text.length;
      const firstLine = text.slice(0, splice).split("\n").length - 1;
      let rest = text.slice(splice);
      for (const clash of [...clashes].reverse())
        rest = rest.slice(0, clash.getStart() - splice) + rest.slice(clash.end - splice);
      units.push({ snippet, path, firstLine, realLines: firstLine });
      text = `${text.slice(0, splice)}${snippet.code}\n${rest}`;
    }
    files.set(path, text);
  }

  // The exports fragments may use: their own file's and their package index's.
  const homes = new Map<Snippet, { own?: string; index?: string; path: string }>();
  for (const snippet of fragments) {
    const own = snippet.kind === "tsdoc" ? at(snippet.file) : undefined;
    const pkg = packageOf(at(snippet.file));
    const index = pkg && existsSync(at(`${pkg}/src/index.ts`)) ? at(`${pkg}/src/index.ts`) : undefined;
    const base = at(snippet.file).replace(/\.(md|ts)$/, "");
    homes.set(snippet, { own, index, path: `${base}.example-${snippet.line}.ts` });
  }
  const modules = [
    ...new Set([...homes.values()].flatMap((h) => [h.own, h.index].filter((p): p is string => p !== undefined))),
  ];
  // Only the repo's own sources (no lib, no node_modules): the names are all it is asked for.
  const ownOptions: ts.CompilerOptions = { ...options, noLib: true, types: [] };
  const first = ts.createProgram([...modules, preamblePath], ownOptions, overlayHost(ownOptions, files, parsed, true));
  const checker = first.getTypeChecker();
  const exportsByModule = new Map(modules.map((m) => [m, exportsOf(checker, first.getSourceFile(m))]));
  const preambleExports = exportsOf(checker, first.getSourceFile(preamblePath));

  for (const snippet of fragments) {
    const home = homes.get(snippet);
    if (!home) continue;
    const names = namesOf(snippet.code);
    if (names.imports && snippet.kind === "markdown") {
      files.set(home.path, snippet.code);
      units.push({ snippet, path: home.path, firstLine: 0 });
      continue;
    }
    const sources: Array<[string, Map<string, boolean>]> = [
      ...[home.own, home.index]
        .filter((m): m is string => m !== undefined)
        .map((m): [string, Map<string, boolean>] => [m, exportsByModule.get(m) ?? new Map()]),
      [preamblePath, preambleExports],
    ];
    const taken = new Set(names.declared);
    const importLines: string[] = [];
    for (const [module, exported] of sources) {
      const picked = [...names.used].filter((n) => exported.has(n) && !taken.has(n));
      for (const n of picked) taken.add(n);
      if (picked.length > 0)
        importLines.push(
          `import { ${picked.map((n) => (exported.get(n) ? n : `type ${n}`)).join(", ")} } from "${importPath(home.path, module)}";`,
        );
    }
    // Imports are hoisted, so they go after the snippet and its lines keep their numbers.
    const [head, tail] = names.returns ? ["export async function example() {\n", "\n}"] : ["", ""];
    files.set(home.path, `${head}${snippet.code}${tail}\n${importLines.join("\n")}\nexport {};\n`);
    units.push({ snippet, path: home.path, firstLine: head === "" ? 0 : 1 });
  }

  const program = ts.createProgram(
    units.map((u) => u.path),
    options,
    overlayHost(options, files, parsed, false),
  );
  const byPath = new Map<string, Unit[]>();
  for (const unit of units) byPath.set(unit.path, [...(byPath.get(unit.path) ?? []), unit]);
  return { program, units, byPath, misplaced };
}

/** A snippet's diagnostics, as `file:line:column message` in the file the snippet is written in. */
function problems(compiled: Compiled, unit: Unit): string[] {
  const source = compiled.program.getSourceFile(unit.path);
  if (!source) return [`${unit.path} is not in the program`];
  const others = (compiled.byPath.get(unit.path) ?? []).filter((u) => u !== unit);
  const lineCount = unit.snippet.code.split("\n").length;
  const diagnostics = [
    ...compiled.program.getSyntacticDiagnostics(source),
    ...compiled.program.getSemanticDiagnostics(source),
  ];
  return diagnostics.flatMap((d) => {
    const message = `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    if (d.start === undefined) return [`${unit.snippet.file}:${unit.snippet.line}: ${message}`];
    const { line, character } = source.getLineAndCharacterOfPosition(d.start);
    const offset = line - unit.firstLine;
    if (offset >= 0 && offset < lineCount) {
      const column = character + 1 + (unit.snippet.cut[offset] ?? 0);
      return [`${unit.snippet.file}:${unit.snippet.line + offset}:${column} ${message}`];
    }
    // Another snippet's lines in the same file are that snippet's problem.
    if (others.some((o) => line - o.firstLine >= 0 && line - o.firstLine < o.snippet.code.split("\n").length))
      return [];
    if (unit.realLines !== undefined && line < unit.realLines)
      return [`${relative(repoRoot, unit.path)}:${line + 1}:${character + 1} (with the addition) ${message}`];
    return [`${unit.snippet.file}:${unit.snippet.line} (generated context) ${message}`];
  });
}

describe("code examples in READMEs and TSDoc", () => {
  let compiled: Compiled;
  beforeAll(() => {
    compiled = compileAll();
  }, 120_000);

  it("finds the examples: the READMEs' recipes and the TSDoc examples", () => {
    const markdown = snippets.filter((s) => s.kind === "markdown");
    const tsdoc = snippets.filter((s) => s.kind === "tsdoc");
    expect(tsdoc.length).toBeGreaterThan(30);
    expect(new Set(tsdoc.map((s) => s.file.split("/")[1])).size).toBeGreaterThan(4);
    const recipes = markdown
      .filter((s) => s.file === "packages/functions/README.md")
      .map((s) => s.code.split("\n", 1)[0]);
    expect(recipes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/\/ packages\/functions\/src\/manifest\.ts \(add/),
        "// packages/functions/src/webhooks/github.ts",
        "// packages/functions/src/jobs/deactivate-sold-out.ts",
      ]),
    );
    expect(markdown.map((s) => s.file)).toEqual(
      expect.arrayContaining(["packages/core/README.md", "packages/emulator/README.md"]),
    );
    expect(compiled.units.length + compiled.misplaced.size).toBe(snippets.length);
    expect(compiled.program.getOptionsDiagnostics()).toEqual([]);
  });

  it.each(snippets.map((s) => [`${s.file}:${s.line}`, s] as const))("%s compiles", (_name, snippet) => {
    expect(compiled.misplaced.get(snippet)).toBeUndefined();
    const unit = compiled.units.find((u) => u.snippet === snippet);
    expect(unit, "the snippet was placed in the program").toBeDefined();
    if (unit) expect(problems(compiled, unit)).toEqual([]);
  });
});

/**
 * `biome check` (format, lint, imports; the repo's settings) on `code` as the file at `path` would
 * hold it, in a scratch copy of the repo's layout (so nothing else sees the file): its exit
 * status and what it printed.
 */
function biomeCheck(scratch: string, path: string, code: string) {
  const file = join(scratch, relative(repoRoot, path));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, code);
  const run = spawnSync(join(repoRoot, "node_modules/.bin/biome"), ["check", "--colors=off", relative(scratch, file)], {
    cwd: scratch,
    encoding: "utf8",
  });
  rmSync(file);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("a README recipe followed verbatim passes the project's lint", () => {
  // A reader pastes a `// <path>` block into that file (or adds it there): it must come out as
  // biome would write it, and pass biome's lint, or npm test fails right after following the docs.
  const files = snippets.flatMap((s) => {
    const placed = location(s);
    return placed ? [[`${s.file}:${s.line}`, s, placed.path] as const] : [];
  });
  let scratch = "";
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "doc-recipes-"));
    const settings = JSON.parse(readFileSync(at("biome.json"), "utf8")) as Record<string, unknown>;
    delete settings.$schema;
    writeFileSync(join(scratch, "biome.json"), JSON.stringify({ ...settings, vcs: { enabled: false } }));
  });
  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it("finds the recipes", () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)("%s is formatted as biome formats it, and passes its lint", (_name, snippet, path) => {
    const checked = biomeCheck(scratch, path, `${snippet.code.replace(/\n*$/, "")}\n`);
    expect(checked.output).not.toMatch(/[×✖]/);
    expect(checked.status, checked.output).toBe(0);
  });
});
