import { readdirSync, readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { securityHeaders } from "./http.js";

const folder = fileURLToPath(new URL("./static/", import.meta.url));

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/**
 * The console's page and its files, served from `console/static/` only: the names are listed once
 * at start and a request is looked up among them, never joined onto a path, so `..`, encoded
 * slashes or absolute paths cannot reach another file.
 */
export class StaticFiles {
  readonly #files: Map<string, string>;

  constructor() {
    this.#files = new Map(
      readdirSync(folder, { withFileTypes: true })
        .filter((e) => e.isFile() && contentTypes[extname(e.name)] !== undefined)
        .map((e) => [e.name, `${folder}${e.name}`]),
    );
  }

  /** Serves `name` (`""` is the page); false when there is no such file. */
  serve(res: ServerResponse, name: string, head = false): boolean {
    const file = this.#files.get(name === "" ? "index.html" : name);
    if (!file) return false;
    const body = readFileSync(file);
    res.writeHead(200, {
      ...securityHeaders,
      "content-type": contentTypes[extname(file)] as string,
      "content-length": String(body.length),
    });
    res.end(head ? undefined : body);
    return true;
  }
}
