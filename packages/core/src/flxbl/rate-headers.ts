/**
 * What one answer's rate-limit headers say about one limit (a "policy") of the key: its quota
 * per window, what is left of it and when it is restored. Any field may be missing; values that
 * are not sensible numbers are dropped, never guessed. Internal: the rate controller reads it.
 *
 * @example
 * ```ts
 * // X-RateLimit-Limit: 50, X-RateLimit-Remaining: 12, X-RateLimit-Reset: 1 (@nestjs/throttler)
 * const reading: RateLimitReading = { name: "default", limit: 50, remaining: 12, resetSeconds: 1 };
 * ```
 */
export interface RateLimitReading {
  /** The policy's name: a NestJS throttler's suffix (`X-RateLimit-Limit-short`), an IETF policy's name, or `default`. */
  name: string;
  /** Quota units (requests) per window. */
  limit?: number;
  /** The window in seconds, when the headers state it (IETF `RateLimit-Policy: ...;w=60`). */
  windowSeconds?: number;
  /** Quota units left now. */
  remaining?: number;
  /** Seconds from the answer until the quota is restored (an epoch-seconds reset is turned into this). */
  resetSeconds?: number;
}

/** Larger than any quota or window a server means; anything above is taken for garbage. */
const sane = 1e9;

/** A non-negative finite number from a header value (integer or decimal), else undefined. */
function count(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) && n <= sane ? n : undefined;
}

/** A reset value as delta seconds: values past 1e9 are epoch seconds (GitHub-style), counted from `nowMs`. */
function resetFrom(value: string | undefined, nowMs: number): number | undefined {
  const trimmed = value?.trim();
  if (trimmed === undefined || !/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  const n = Number(trimmed);
  if (!Number.isFinite(n)) return undefined;
  if (n <= sane) return n;
  // Epoch seconds within a day of now; anything else is not a time this client can use.
  const delta = n - nowMs / 1000;
  return delta >= -1 && delta <= 86_400 ? Math.max(0, delta) : undefined;
}

/** Splits a structured-field list on commas outside quoted strings. */
function members(value: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '"' && value[i - 1] !== "\\") quoted = !quoted;
    if (c === "," && !quoted) {
      out.push(current.trim());
      current = "";
    } else current += c;
  }
  if (current.trim() !== "") out.push(current.trim());
  return out.filter((m) => m !== "");
}

/** One list member `item;key=value;...`: the bare item and its parameters. */
function member(text: string): { item: string; params: Map<string, string> } {
  const [item = "", ...rest] = text.split(";").map((p) => p.trim());
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf("=");
    if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
  }
  return { item, params };
}

/** A policy name from a list item: a quoted string or a token; a bare number has none. */
function policyName(item: string): string | undefined {
  const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(item);
  if (quoted) return quoted[1] as string;
  return /^[A-Za-z*][\w:/.*-]*$/.test(item) ? item : undefined;
}

class Readings {
  readonly #byName = new Map<string, RateLimitReading>();
  set(name: string, field: Exclude<keyof RateLimitReading, "name">, value: number | undefined): void {
    if (value === undefined) return;
    // A zero quota or window describes no usable limit.
    if ((field === "limit" || field === "windowSeconds") && value <= 0) return;
    const reading = this.#byName.get(name) ?? { name };
    reading[field] = value;
    this.#byName.set(name, reading);
  }
  all(): RateLimitReading[] {
    return [...this.#byName.values()];
  }
}

/**
 * Reads every rate-limit header style FLXBL's stack or a gateway in front of it may send:
 * - `X-RateLimit-Limit`, `-Remaining`, `-Reset` as @nestjs/throttler sends them (a named
 *   throttler adds its name: `X-RateLimit-Limit-short`); a reset past 1e9 is read as epoch seconds;
 * - the IETF draft's `RateLimit-Policy: "default";q=100;w=60` with `RateLimit: "default";r=50;t=30`
 *   (draft 08 on), its draft-07 form `RateLimit: limit=100, remaining=50, reset=30` with
 *   `RateLimit-Policy: 100;w=60`, and the `RateLimit-Limit`/`-Remaining`/`-Reset` of earlier drafts.
 *
 * Each style is read into its own readings (X-RateLimit names are prefixed `x:`), so a server
 * sending two styles yields both; the controller paces to the most restrictive. Malformed values
 * are ignored, never fatal. Internal: not exported from the package.
 *
 * @example
 * ```ts
 * const headers = new Headers({ "x-ratelimit-limit": "50", "x-ratelimit-remaining": "12", "x-ratelimit-reset": "1" });
 * parseRateLimitHeaders(headers, Date.now()); // [{ name: "x:default", limit: 50, remaining: 12, resetSeconds: 1 }]
 * ```
 */
export function parseRateLimitHeaders(headers: Headers, nowMs: number): RateLimitReading[] {
  const x = new Readings();
  const ietf = new Readings();
  for (const [rawName, value] of headers) {
    const name = rawName.toLowerCase();
    const nest = /^x-ratelimit-(limit|remaining|reset)(?:-(.+))?$/.exec(name);
    if (nest) {
      const policy = `x:${nest[2] ?? "default"}`;
      if (nest[1] === "limit") x.set(policy, "limit", count(value));
      else if (nest[1] === "remaining") x.set(policy, "remaining", count(value));
      else x.set(policy, "resetSeconds", resetFrom(value, nowMs));
      continue;
    }
    if (name === "ratelimit-limit") {
      // Drafts up to 06: the first member is the limit; later ones may be policies (`10;w=1`).
      const [first, ...policies] = members(value);
      if (first !== undefined) ietf.set("default", "limit", count(member(first).item));
      readPolicies(policies, ietf);
    } else if (name === "ratelimit-remaining") ietf.set("default", "remaining", count(value));
    else if (name === "ratelimit-reset") ietf.set("default", "resetSeconds", resetFrom(value, nowMs));
    else if (name === "ratelimit-policy") readPolicies(members(value), ietf);
    else if (name === "ratelimit") readCurrent(members(value), ietf, nowMs);
  }
  return [...x.all(), ...ietf.all()];
}

/** `RateLimit-Policy` members: `"name";q=100;w=60` (or `l=` in draft 08), or `100;w=60` (draft 07). */
function readPolicies(list: string[], into: Readings): void {
  for (const text of list) {
    const { item, params } = member(text);
    const bare = count(item);
    const name = bare === undefined ? policyName(item) : "default";
    if (name === undefined) continue;
    into.set(name, "limit", bare ?? count(params.get("q") ?? params.get("l")));
    into.set(name, "windowSeconds", count(params.get("w")));
  }
}

/** `RateLimit` members: `"name";r=50;t=30` (draft 08 on) or the dictionary `limit=, remaining=, reset=` (draft 07). */
function readCurrent(list: string[], into: Readings, nowMs: number): void {
  for (const text of list) {
    const { item, params } = member(text);
    const eq = item.indexOf("=");
    if (eq > 0) {
      const key = item.slice(0, eq).trim().toLowerCase();
      const value = item.slice(eq + 1).trim();
      if (key === "limit") into.set("default", "limit", count(value));
      else if (key === "remaining") into.set("default", "remaining", count(value));
      else if (key === "reset") into.set("default", "resetSeconds", resetFrom(value, nowMs));
      continue;
    }
    const name = policyName(item);
    if (name === undefined) continue;
    into.set(name, "remaining", count(params.get("r")));
    into.set(name, "resetSeconds", resetFrom(params.get("t"), nowMs));
  }
}
