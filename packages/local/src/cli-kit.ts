/**
 * What every command line of this package shares: `--help`, errors that say what failed and what
 * to do, and exit codes (0 done, 1 failed, 2 used wrongly). Small enough that a CLI framework
 * (commander, yargs) would add more than it saves; `node:util`'s `parseArgs` does the parsing.
 */

/**
 * An error meant for the person at the terminal: its message is printed as is, with no stack, and
 * the process exits with `exitCode` (2: the command was used wrongly; 1: it failed).
 *
 * @example
 * ```ts
 * throw new CliError("no job named nightly; jobs: expire-stale-orders, low-stock-alerts", 2);
 * ```
 */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

/** Whether the arguments ask for help (`--help` or `-h`, anywhere before a `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/**
 * Runs a command line's `main`: prints `usage` and exits 0 for `--help`; prints a failure's
 * message (explained by {@link explainFailure}) and exits non-zero.
 *
 * @example
 * ```ts
 * runCli("usage: npm run job -- <name>", async (args) => {
 *   console.log(args);
 * });
 * ```
 */
export function runCli(usage: string, main: (args: string[]) => Promise<void>): void {
  const args = process.argv.slice(2);
  if (wantsHelp(args)) {
    console.log(usage);
    return;
  }
  main(args).catch((err: unknown) => {
    console.error(explainFailure(err));
    process.exit(err instanceof CliError ? err.exitCode : 1);
  });
}

/** The `code` (ECONNREFUSED, ENOTFOUND, ...) and address of a failed connection, looked for along an error's causes. */
export function connectionFailure(err: unknown): { code: string; address?: string } | undefined {
  for (
    let e = err as { code?: unknown; cause?: unknown; address?: unknown; port?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (
      typeof e.code === "string" &&
      /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET)$/.test(
        e.code,
      )
    )
      return {
        code: e.code,
        address: typeof e.address === "string" ? `${e.address}${e.port ? `:${e.port}` : ""}` : undefined,
      };
    // AggregateError (Node tries IPv4 and IPv6 for localhost): the first of its errors.
    const first = (e as { errors?: unknown[] }).errors?.[0];
    if (first) return connectionFailure(first);
  }
  return undefined;
}

/** Whether a failure is an HTTP request that never reached its server (refused, unknown host, timed out). */
export function isUnreachable(err: unknown): boolean {
  return connectionFailure(err) !== undefined;
}

/**
 * `fetch`, with a failure to connect reported as what was unreachable and what to do, instead of
 * undici's bare `fetch failed`.
 *
 * @example
 * ```ts
 * const res = await request("http://127.0.0.1:3000/_local/health", {}, {
 *   what: "the npm start gateway",
 *   fix: "start the app with npm start (in another terminal)",
 * });
 * ```
 */
export async function request(url: string, init: RequestInit, about: { what: string; fix: string }): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const failure = connectionFailure(err);
    if (!failure) throw err;
    throw new CliError(`Could not reach ${about.what} at ${new URL(url).origin} (${failure.code}): ${about.fix}`);
  }
}

/**
 * The message to print for a failure: a {@link CliError}'s as is; a connection that failed
 * named; missing AWS credentials explained; anything else as `name: message`.
 */
export function explainFailure(err: unknown): string {
  if (err instanceof CliError) return err.message;
  const message = err instanceof Error ? err.message : String(err);
  let credentials: Error | undefined;
  for (let e = err as Error | undefined, d = 0; e && d < 5 && !credentials; e = e.cause as Error | undefined, d++)
    if (
      /^(CredentialsProviderError|ExpiredToken.*|UnrecognizedClientException|InvalidSignatureException)$/.test(e.name)
    )
      credentials = e;
  if (credentials)
    return `No usable AWS credentials (${credentials.name}: ${credentials.message.split("\n")[0]}). Set AWS_PROFILE (after aws sso login or aws configure) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and AWS_REGION; for the local app, pass --local instead.`;
  const failure = connectionFailure(err);
  if (failure)
    return `Could not connect${failure.address ? ` to ${failure.address}` : ""} (${failure.code}): ${message}. Check the URL it was given, or that the server is running.`;
  return err instanceof Error && err.name !== "Error" ? `${err.name}: ${message}` : message;
}
