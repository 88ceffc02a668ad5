import { closeSync, fchmodSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";

/**
 * Whether a request's `Host` names this server on loopback (`127.0.0.1`, `localhost` or `[::1]`,
 * any case, or `alsoAddress`) with its own port: a page served elsewhere that DNS-rebinds its name
 * to 127.0.0.1 sends its own name, and is refused. A `Host` sent twice matches nothing.
 */
export function isOwnLoopbackHost(req: IncomingMessage, port: number, alsoAddress?: string): boolean {
  const hosts = req.headersDistinct.host ?? [];
  const host = hosts.length === 1 ? (hosts[0] as string).toLowerCase() : undefined;
  const extra = alsoAddress ? [alsoAddress.includes(":") ? `[${alsoAddress}]` : alsoAddress] : [];
  return (
    host !== undefined &&
    ["127.0.0.1", "localhost", "[::1]", ...extra].some((name) => host === `${name.toLowerCase()}:${port}`)
  );
}

/**
 * Writes a file only its owner can read or write (0600). The mode is set on the open file before
 * the text is written, since `writeFileSync`'s `mode` applies only to a file it creates. With
 * `atomic`, the text goes to a fresh `file.tmp` renamed over the file, so a crash mid-write leaves
 * the previous file intact; a leftover `.tmp` is removed first, never written through (it could be
 * a link to another file).
 */
export function writePrivateFile(file: string, text: string, options: { atomic?: boolean } = {}): void {
  const target = options.atomic ? `${file}.tmp` : file;
  if (options.atomic) rmSync(target, { force: true });
  const fd = openSync(target, options.atomic ? "wx" : "w", 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeFileSync(fd, text);
  } finally {
    closeSync(fd);
  }
  if (options.atomic) renameSync(target, file);
}
