const redactedKeys = new Set([
  "authorization",
  "apikey",
  "api_key",
  "x-api-key",
  "secret",
  "secrets",
  "signingsecret",
  "signingsecrets",
  "secretstring",
  "password",
  "token",
  "cookie",
  "set-cookie",
  "signature",
  "stripe-signature",
  "webhook-signature",
]);

const patterns: Array<[RegExp, string]> = [
  [/flxbl_[A-Za-z0-9]{8}_[A-Za-z0-9_-]+/g, "[REDACTED flxbl key]"],
  [/whsec_[A-Za-z0-9+/=_-]+/g, "[REDACTED signing secret]"],
  [/\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+/g, "[REDACTED stripe key]"],
  [/\bBearer\s+[^\s"',;]+/gi, "Bearer [REDACTED]"],
  // Stripe-Signature `v1=<hex>` and Standard Webhooks `v1,<base64>` values.
  [/\bv[01]=[0-9a-f]{16,}/g, "v1=[REDACTED]"],
  [/\bv1,[A-Za-z0-9+/=]{16,}/g, "v1,[REDACTED]"],
];

/**
 * Replaces every secret-looking substring of a string: FLXBL keys, signing secrets, bearer tokens, signatures.
 *
 * @example
 * ```ts
 * redactString("refused key flxbl_AbCd1234_notARealKey"); // "refused key [REDACTED flxbl key]"
 * ```
 */
export function redactString(text: string): string {
  let out = text;
  for (const [pattern, replacement] of patterns) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A `JSON.stringify` replacer that hides secrets wherever they sit: values under secret-named
 * keys (`authorization`, `apiKey`, `signingSecrets`, ...), and secret-shaped substrings of any
 * string (a key pasted into an error message, a header echoed in a payload).
 *
 * @example
 * ```ts
 * JSON.stringify({ headers: { Authorization: "Bearer flxbl_..." } }, redactingReplacer);
 * // {"headers":{"Authorization":"[REDACTED]"}}
 * ```
 */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (key !== "" && redactedKeys.has(key.toLowerCase()) && value !== undefined && value !== null) return "[REDACTED]";
  if (typeof value === "string") return redactString(value);
  return value;
}

/**
 * A deep copy of `value` with secrets redacted as {@link redactingReplacer} does.
 *
 * @example
 * ```ts
 * redact({ apiKey: "flxbl_abcdefgh_..." }); // { apiKey: "[REDACTED]" }
 * ```
 */
export function redact<T>(value: T): T {
  if (value === undefined) return value;
  return JSON.parse(JSON.stringify(value, redactingReplacer)) as T;
}
