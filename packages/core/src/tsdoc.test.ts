import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const indexPath = fileURLToPath(new URL("./index.ts", import.meta.url));
const tsconfigPath = fileURLToPath(new URL("../../../tsconfig.json", import.meta.url));

/** Every name `index.ts` exports, resolved through the `export *` chain to its declarations. */
function publicExports(): Array<{ name: string; declarations: ts.Declaration[] }> {
  const config = ts.getParsedCommandLineOfConfigFile(
    tsconfigPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      },
    },
  );
  if (!config) throw new Error(`cannot read ${tsconfigPath}`);
  // Only core's own files matter: following package imports and loading lib and @types
  // would read ~1000 declaration files and take seconds.
  const options: ts.CompilerOptions = { ...config.options, noLib: true, types: [] };
  const host = ts.createCompilerHost(options);
  host.resolveModuleNameLiterals = (literals, containingFile, redirectedReference) =>
    literals.map((literal) =>
      literal.text.startsWith(".")
        ? ts.resolveModuleName(literal.text, containingFile, options, host, undefined, redirectedReference)
        : { resolvedModule: undefined },
    );
  const program = ts.createProgram([indexPath], options, host);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(indexPath);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`${indexPath} is not a module`);
  return checker.getExportsOfModule(moduleSymbol).map((exported) => {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    return { name: exported.getName(), declarations: symbol.getDeclarations() ?? [] };
  });
}

const hasExample = (declaration: ts.Declaration) =>
  ts.getJSDocTags(declaration).some((tag) => tag.tagName.text === "example");

/** Overloads share one doc; anything else (a value and a type under one name) needs its own. */
function documented(declarations: ts.Declaration[]): boolean {
  if (declarations.length === 0) return false;
  if (declarations.every(ts.isFunctionDeclaration)) return declarations.some(hasExample);
  return declarations.every(hasExample);
}

describe("the public API of @flxbl-lambda/core", () => {
  it("has TSDoc with an @example on every export", () => {
    // Prepare
    const exports = publicExports();

    // Act
    const undocumented = exports.filter((e) => !documented(e.declarations)).map((e) => e.name);

    // Assess
    expect(exports.length).toBeGreaterThan(50);
    expect(undocumented, `exports without an @example in their TSDoc: ${undocumented.join(", ")}`).toEqual([]);
  });
});
