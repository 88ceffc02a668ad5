import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));

/** One workspace package: its name, folder (relative to the repo root) and package.json. */
interface Workspace {
  name: string;
  dir: string;
  manifest: {
    name?: string;
    exports?: string | Record<string, unknown>;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
}

/** Why `from` depends on `to`: a package.json field, or a file and what it imports. */
interface Edge {
  from: string;
  to: string;
  kind: "package.json" | "import";
  why: string;
  /** For an import of a workspace by name: the subpath it names (`.` for the package itself, `./jobs`). */
  subpath?: string;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** The root package.json's `workspaces` (`folder/*` read as every folder in it), each with its package.json. */
function readWorkspaces(root: string): Workspace[] {
  const { workspaces = [] } = readJson<{ workspaces?: string[] }>(join(root, "package.json"));
  const dirs = workspaces.flatMap((entry) =>
    entry.endsWith("/*")
      ? readdirSync(join(root, entry.slice(0, -2)), { withFileTypes: true })
          .filter((d) => d.isDirectory() && existsSync(join(root, entry.slice(0, -2), d.name, "package.json")))
          .map((d) => `${entry.slice(0, -2)}/${d.name}`)
      : [entry],
  );
  return dirs.map((dir) => {
    const manifest = readJson<Workspace["manifest"]>(join(root, dir, "package.json"));
    if (!manifest.name) throw new Error(`${dir}/package.json has no name`);
    return { name: manifest.name, dir: dir.replace(/\/+$/, ""), manifest };
  });
}

/** Every TypeScript file under `dir`, skipping node_modules and dot folders. */
function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory())
      return entry.name === "node_modules" || entry.name.startsWith(".") ? [] : typeScriptFiles(path);
    return /\.[cm]?tsx?$/.test(entry.name) ? [path] : [];
  });
}

const mockCalls = new Set(["mock", "doMock", "unmock", "doUnmock", "importActual", "importMock"]);

/**
 * The module specifiers a file imports, from its syntax tree (so an import in a comment or a
 * TSDoc example is not one): `import`/`export ... from`, side-effect imports, `import x =
 * require()`, `import()` and `require()` with a literal, `import("x").T` types,
 * `vi.mock("x")`-style calls, and files read through `new URL("../x", import.meta.url)`.
 */
function importsOf(fileName: string, text: string): string[] {
  const kind = fileName.endsWith("x") ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, kind);
  const found: string[] = [];
  const literal = (node: ts.Node | undefined) => {
    if (node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node))) found.push(node.text);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) literal(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
      literal(node.moduleReference.expression);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) literal(node.argument.literal);
    else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === "require";
      const isMock =
        ts.isPropertyAccessExpression(callee) &&
        ts.isIdentifier(callee.expression) &&
        callee.expression.text === "vi" &&
        mockCalls.has(callee.name.text);
      if (isImport || isRequire || isMock) literal(node.arguments[0]);
    } else if (
      // `new URL("../x", import.meta.url)`: a file read, a dependency as much as an import.
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === "URL" &&
      node.arguments?.length === 2 &&
      node.arguments[1]?.getText(source) === "import.meta.url" &&
      // A folder (the repo root, to resolve paths from) is where files are, not a file read.
      !node.arguments[0]?.getText(source).endsWith('/"')
    )
      literal(node.arguments[0]);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const inside = (folder: string, path: string) => path === folder || path.startsWith(folder + sep);

/**
 * The dependency graph between workspace packages: the `dependencies` and `devDependencies` of
 * each package.json, and every import in each package's TypeScript files (tests included) of
 * `@scope/name` of another workspace, or of a relative path that leaves the package's folder.
 * `outside` lists relative imports that leave the package for a folder no workspace owns.
 */
function packageGraph(root: string): { workspaces: Workspace[]; edges: Edge[]; outside: string[] } {
  const workspaces = readWorkspaces(root);
  const byName = new Map(workspaces.map((w) => [w.name, w]));
  const owner = (path: string) => workspaces.find((w) => inside(resolve(root, w.dir), path));
  const edges: Edge[] = [];
  const outside: string[] = [];
  for (const workspace of workspaces) {
    for (const field of ["dependencies", "devDependencies"] as const)
      for (const dep of Object.keys(workspace.manifest[field] ?? {}))
        if (byName.has(dep) && dep !== workspace.name)
          edges.push({
            from: workspace.name,
            to: dep,
            kind: "package.json",
            why: `${workspace.dir}/package.json ${field}`,
          });
    const folder = resolve(root, workspace.dir);
    for (const file of typeScriptFiles(folder)) {
      const shown = relative(root, file).split(sep).join("/");
      for (const specifier of importsOf(file, readFileSync(file, "utf8"))) {
        let to: string | undefined;
        let subpath: string | undefined;
        if (specifier.startsWith(".")) {
          const target = resolve(dirname(file), specifier);
          if (inside(folder, target)) continue;
          to = owner(target)?.name;
          if (to === undefined) {
            outside.push(`${shown} imports ${specifier}`);
            continue;
          }
        } else {
          const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0];
          if (name === undefined || !byName.has(name)) continue;
          to = name;
          subpath = `.${specifier.slice(name.length)}`;
        }
        if (to !== workspace.name)
          edges.push({ from: workspace.name, to, kind: "import", why: `${shown} imports ${specifier}`, subpath });
      }
    }
  }
  return { workspaces, edges, outside };
}

/**
 * The cycles of a graph: in each strongly connected component with more than one package (or a
 * package that depends on itself), the shortest cycle through each of its edges, so every
 * dependency that closes a cycle is named. Each is the packages along it from the alphabetically
 * first, that one repeated at the end.
 */
function findCycles(nodes: readonly string[], edges: readonly Pick<Edge, "from" | "to">[]): string[][] {
  const next = new Map(nodes.map((n) => [n, [...new Set(edges.filter((e) => e.from === n).map((e) => e.to))].sort()]));
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node) as number);
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node) ?? []) {
      if (!index.has(to)) {
        connect(to);
        low.set(node, Math.min(low.get(node) as number, low.get(to) as number));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node) as number, index.get(to) as number));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component.sort());
    }
  };
  for (const node of [...nodes].sort()) if (!index.has(node)) connect(node);
  /** The shortest way from `start` to `end`, through `members` only (breadth first). */
  const shortestPath = (start: string, end: string, members: Set<string>): string[] | undefined => {
    const paths = new Map<string, string[]>([[start, [start]]]);
    const queue = [start];
    while (queue.length > 0) {
      const node = queue.shift() as string;
      if (node === end) return paths.get(node);
      for (const to of next.get(node) ?? []) {
        if (!members.has(to) || paths.has(to)) continue;
        paths.set(to, [...(paths.get(node) as string[]), to]);
        queue.push(to);
      }
    }
    return undefined;
  };
  /** The same cycle however it is entered: from its alphabetically first package. */
  const canonical = (cycle: string[]) => {
    const ring = cycle.slice(0, -1);
    const first = ring.indexOf([...ring].sort()[0] as string);
    const turned = [...ring.slice(first), ...ring.slice(0, first)];
    return [...turned, turned[0] as string];
  };
  const cycles = new Map<string, string[]>();
  for (const component of components) {
    const members = new Set(component);
    for (const from of component)
      for (const to of next.get(from) ?? []) {
        // An edge into the component closes a cycle with the shortest way back from its end.
        const back = members.has(to) ? shortestPath(to, from, members) : undefined;
        if (!back) continue;
        const cycle = canonical([from, ...back]);
        cycles.set(cycle.join(" "), cycle);
      }
  }
  return [...cycles.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, cycle]) => cycle);
}

/** A cycle, with what makes each step of it. */
function describeCycle(cycle: string[], edges: readonly Edge[]): string {
  const steps = cycle.slice(1).map((to, i) => {
    const from = cycle[i] as string;
    const reasons = edges.filter((e) => e.from === from && e.to === to).map((e) => e.why);
    const shown = reasons.slice(0, 3).join("; ") + (reasons.length > 3 ? `; and ${reasons.length - 3} more` : "");
    return `  ${from} -> ${to}: ${shown}`;
  });
  return [`cycle: ${cycle.join(" -> ")}`, ...steps].join("\n");
}

describe("the workspace packages", () => {
  it("import no package that imports them back (package.json dependencies and every import, tests included)", () => {
    // Prepare
    const { workspaces, edges } = packageGraph(repoRoot);

    // Act
    const cycles = findCycles(
      workspaces.map((w) => w.name),
      edges,
    );

    // Assess
    expect(cycles.map((cycle) => describeCycle(cycle, edges))).toEqual([]);
  });

  it("declare in package.json every workspace package they import", () => {
    // Prepare
    const { workspaces, edges } = packageGraph(repoRoot);
    const declared = (name: string, dep: string) => {
      const { manifest } = workspaces.find((w) => w.name === name) as Workspace;
      return dep in (manifest.dependencies ?? {}) || dep in (manifest.devDependencies ?? {});
    };

    // Act
    const undeclared = edges.filter((e) => e.kind === "import" && !declared(e.from, e.to));

    // Assess
    expect(undeclared.map((e) => `${e.from} -> ${e.to}: ${e.why}`)).toEqual([]);
  });

  it("import by name only what the imported package exports (its package.json `exports`)", () => {
    // Prepare
    const { workspaces, edges } = packageGraph(repoRoot);
    const exported = (name: string, subpath: string) => {
      const { exports } = (workspaces.find((w) => w.name === name) as Workspace).manifest;
      if (exports === undefined) return true;
      if (typeof exports === "string") return subpath === ".";
      return subpath in exports;
    };

    // Act
    const unexported = edges.filter((e) => e.subpath !== undefined && !exported(e.to, e.subpath));

    // Assess
    expect(unexported.map((e) => `${e.from} -> ${e.to}: ${e.why}`)).toEqual([]);
  });

  it("import nothing outside the workspaces by relative path", () => {
    expect(packageGraph(repoRoot).outside).toEqual([]);
  });
});

describe("findCycles", () => {
  it("names the packages of a cycle, in order, back to the first", () => {
    const edges = [
      { from: "b", to: "c" },
      { from: "c", to: "a" },
      { from: "a", to: "b" },
      { from: "a", to: "d" },
    ];

    expect(findCycles(["a", "b", "c", "d"], edges)).toEqual([["a", "b", "c", "a"]]);
  });

  it("finds each separate knot, and a package that depends on itself", () => {
    const edges = [
      { from: "a", to: "b" },
      { from: "b", to: "a" },
      { from: "c", to: "d" },
      { from: "d", to: "c" },
      { from: "e", to: "e" },
    ];

    expect(findCycles(["a", "b", "c", "d", "e"], edges)).toEqual([
      ["a", "b", "a"],
      ["c", "d", "c"],
      ["e", "e"],
    ]);
  });

  it("names a cycle through every dependency of a knot of several", () => {
    const edges = [
      { from: "core", to: "functions" },
      { from: "functions", to: "core" },
      { from: "functions", to: "local" },
      { from: "local", to: "functions" },
      { from: "local", to: "core" },
    ];

    expect(findCycles(["core", "functions", "local"], edges)).toEqual([
      ["core", "functions", "core"],
      ["core", "functions", "local", "core"],
      ["functions", "local", "functions"],
    ]);
  });

  it("finds none in a graph with shared dependencies but no way back", () => {
    const edges = [
      { from: "local", to: "functions" },
      { from: "local", to: "core" },
      { from: "functions", to: "core" },
    ];

    expect(findCycles(["core", "functions", "local"], edges)).toEqual([]);
  });
});

describe("importsOf", () => {
  it("reads every kind of import from the syntax tree, and none from comments or plain strings", () => {
    const text = [
      'import a from "@x/a";',
      'import type { B } from "./b.js";',
      'import "./side-effect.js";',
      'export { c } from "../c.js";',
      'export * from "@x/d";',
      'import schema from "../e.json" with { type: "json" };',
      'const f = await import("@x/f");',
      'const g = require("@x/g");',
      'type H = import("@x/h").H;',
      'vi.mock("@x/i");',
      'import j = require("@x/j");',
      '// import k from "@x/k";',
      '/** @example import l from "@x/l"; */',
      'const m = "@x/m";',
      `const n = await import(\`\${root}/n.ts\`);`,
      'const o = readFileSync(new URL("../../other/o.json", import.meta.url));',
      'const root = new URL("../../", import.meta.url);',
    ].join("\n");

    expect(importsOf("x.ts", text)).toEqual([
      "@x/a",
      "./b.js",
      "./side-effect.js",
      "../c.js",
      "@x/d",
      "../e.json",
      "@x/f",
      "@x/g",
      "@x/h",
      "@x/i",
      "@x/j",
      "../../other/o.json",
    ]);
  });
});
