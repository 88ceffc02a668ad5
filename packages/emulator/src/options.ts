/**
 * Behaviour switches for the points FLXBL's public docs leave open.
 *
 * Each option is one open point of FLXBL's API (`FLXBL-API.md` in this package); the default is the variant seen in
 * FLXBL's own example code or generated spec. The client under test must work with every
 * value, so a difference from the real service costs a config change, not a rewrite.
 */
export interface BehaviourOptions {
  /**
   * Shape of `GET /dynamic/{Entity}`: `{data, pagination:{limit, offset, total}}` or a bare array.
   * @default "envelope"
   */
  listShape: "envelope" | "array";
  /**
   * Shape of `GET /dynamic/{Entity}/:id/relationships/{REL}`:
   * `[{relationship:{type, properties}, target}]` or `{items:[{..target, _relationship}], count}`.
   * @default "relationship-target"
   */
  edgeListShape: "relationship-target" | "items-count";
  /**
   * Status of a successful create (records and edges).
   * @default 201
   */
  createStatus: 200 | 201;
  /**
   * Status of a successful delete: 204 with no body, or 200 with `{deleted: true, id}`.
   * @default 204
   */
  deleteStatus: 200 | 204;
  /**
   * Status of a write that fails schema validation; the body carries per-field `errors`.
   * @default 422
   */
  validationStatus: 400 | 422;
  /**
   * Whether error bodies carry `message` as a string, or as a string array (NestJS's
   * validation pipe does the latter).
   * @default "string"
   */
  errorMessageShape: "string" | "array";
  /**
   * Page size when a list or query gives no `limit`.
   * @default 100
   */
  defaultLimit: number;
  /**
   * Largest page a list or query returns; larger `limit` values are clamped to it.
   * @default 1000
   */
  maxLimit: number;
  /**
   * Whether `$eq`/`$neq`/`$in`/`$notIn` compare strings case-insensitively (the docs only say
   * so of the string operators).
   * @default false
   */
  caseInsensitiveEquality: boolean;
  /**
   * Whether the query DSL accepts `$startsWith`, `$endsWith` and `$not`; when off they answer 400
   * like any unknown operator.
   * @default false
   */
  extendedOperators: boolean;
  /**
   * Fields whose values must be unique per entity (`{Order: ["number"]}`); a write that
   * would duplicate one answers 409. FLXBL documents no uniqueness, so none by default.
   * @default {}
   */
  uniqueFields: Record<string, string[]>;
  /**
   * Whether a 429 carries `Retry-After` (whole seconds).
   * @default true
   */
  retryAfterHeader: boolean;
  /**
   * Whether answers under a `rateLimit` carry the IETF draft's rate-limit headers:
   * `RateLimit-Policy: "bucket";q=<rps>;w=1` and `RateLimit: "bucket";r=<tokens left>;t=<seconds to
   * the next token>`. FLXBL documents no rate-limit headers, so off by default (the client then
   * learns the limit from 429s).
   * @default false
   */
  rateLimitHeaders: boolean;
  /**
   * `GET /api-keys` (not documented by FLXBL): every key as a bare array, or the slice `limit`
   * and `offset` ask for when given (`array`); or one page `{data, pagination:{limit, offset,
   * total}}` (`envelope`, page size `defaultLimit` unless `limit` is given). Pages are capped at
   * `maxLimit` either way.
   * @default "array"
   */
  apiKeyListShape: "array" | "envelope";
}

/** A per-key token bucket: `rps` tokens a second, at most `burst` saved up. */
export interface RateLimit {
  rps: number;
  burst: number;
}

/** Faults injected into `/api/v1` requests, for tests. All off by default. */
export interface Faults {
  /** Added to every API request before it is handled, in milliseconds. @default 0 */
  latencyMs: number;
  /** Fraction (0..1) of API requests answered with `errorStatus` instead. @default 0 */
  errorRate: number;
  /** Status used by `errorRate`. @default 503 */
  errorStatus: 500 | 502 | 503;
  /** The next N API requests answer 429 (then it counts down to 0). @default 0 */
  rateLimitBurst: number;
  /** `Retry-After` seconds sent with the 429s of `rateLimitBurst`. @default 1 */
  rateLimitBurstRetryAfter: number;
  /** The next N API requests fail with `errorStatus` (then it counts down to 0). @default 0 */
  errorBurst: number;
  /**
   * The next N writes are applied and then the connection is destroyed before a response is
   * sent: an ambiguous outcome for the client. @default 0
   */
  dropResponseAfterWrite: number;
}

export const defaultBehaviour: BehaviourOptions = {
  listShape: "envelope",
  edgeListShape: "relationship-target",
  createStatus: 201,
  deleteStatus: 204,
  validationStatus: 422,
  errorMessageShape: "string",
  defaultLimit: 100,
  maxLimit: 1000,
  caseInsensitiveEquality: false,
  extendedOperators: false,
  uniqueFields: {},
  retryAfterHeader: true,
  rateLimitHeaders: false,
  apiKeyListShape: "array",
};

export const noFaults: Faults = {
  latencyMs: 0,
  errorRate: 0,
  errorStatus: 503,
  rateLimitBurst: 0,
  rateLimitBurstRetryAfter: 1,
  errorBurst: 0,
  dropResponseAfterWrite: 0,
};
