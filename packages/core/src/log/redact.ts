import { isSecretReference, isSensitiveKey } from "./sensitive-key.js";

export { isSensitiveKey } from "./sensitive-key.js";

const REDACTED = "[REDACTED]";

// ---------------------------------------------------------------------------------------------
// Secret-shaped substrings
// ---------------------------------------------------------------------------------------------

/** Query-string parameters whose value is a credential or a signature, whatever the URL. */
const secretQueryParameters = [
  "api_key",
  "apikey",
  "key",
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "client_secret",
  "secret",
  "password",
  "signature",
  "sig",
  "X-Amz-Signature",
  "X-Amz-Credential",
  "X-Amz-Security-Token",
];

/** A known secret format, and a cheap test (plain `includes`) that rules it out for most strings. */
interface SecretPattern {
  mayMatch: (text: string) => boolean;
  pattern: RegExp;
  replacement: string;
}

const contains =
  (...needles: string[]) =>
  (text: string) =>
    needles.some((needle) => text.includes(needle));

/**
 * Known secret formats, replaced wherever they appear. The `(?!\[REDACTED)` guards keep a second
 * pass (the logger re-serializing an already redacted value) from mangling the marker.
 */
const secretPatterns: SecretPattern[] = [
  {
    // `https://user:password@host`: the whole userinfo goes, the host stays for debugging.
    mayMatch: contains("@"),
    pattern: /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>:]*:[^\s/?#"'<>]*@/gi,
    replacement: `$1${REDACTED}@`,
  },
  {
    // `https://<token>@host` (a token as the user name, as GitHub tokens are used); `ssh://git@`
    // and other schemes keep a plain user name.
    mayMatch: contains("@"),
    pattern: /\b(https?:\/\/)(?!\[REDACTED)[^\s/?#@"'<>:]+@/gi,
    replacement: `$1${REDACTED}@`,
  },
  {
    // A PEM private key, whole (or to the end of the text when its END line is missing).
    mayMatch: contains("PRIVATE KEY-----"),
    pattern: /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g,
    replacement: "[REDACTED private key]",
  },
  {
    mayMatch: contains("="),
    pattern: new RegExp(String.raw`([?&;](?:${secretQueryParameters.join("|")})=)(?!\[REDACTED)[^&\s"'#]+`, "gi"),
    replacement: `$1${REDACTED}`,
  },
  {
    mayMatch: contains("flxbl_"),
    pattern: /flxbl_[A-Za-z0-9]{8}_[A-Za-z0-9_-]+/g,
    replacement: "[REDACTED flxbl key]",
  },
  { mayMatch: contains("whsec_"), pattern: /whsec_[A-Za-z0-9+/=_-]+/g, replacement: "[REDACTED signing secret]" },
  {
    mayMatch: contains("k_live_", "k_test_"),
    pattern: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+/g,
    replacement: "[REDACTED stripe key]",
  },
  {
    mayMatch: contains("AKIA", "ASIA"),
    pattern: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
    replacement: "[REDACTED aws access key id]",
  },
  {
    mayMatch: (text) => /bearer/i.test(text),
    pattern: /\b(Bearer\s+)(?!\[REDACTED)[^\s"',;]+/gi,
    replacement: `$1${REDACTED}`,
  },
  // Stripe-Signature `v1=<hex>` and Standard Webhooks `v1,<base64>` values.
  { mayMatch: contains("v0=", "v1="), pattern: /\b(v[01])=[0-9a-f]{16,}/g, replacement: `$1=${REDACTED}` },
  { mayMatch: contains("v1,"), pattern: /\bv1,[A-Za-z0-9+/=]{16,}/g, replacement: `v1,${REDACTED}` },
];

/** `Basic <base64 of user:password>`; the word "basic" also starts ordinary sentences, see below. */
const basicCredentials = /\b(Basic\s+)(?!\[REDACTED)([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])/gi;

/**
 * Tells `Basic dXNlcjpwYXNz` from `basic authentication`: real credentials decode to
 * `user:password`, and base64 of anything that long nearly always has a digit or `+/=`.
 */
function looksLikeBasicCredentials(token: string): boolean {
  return /[0-9+/=]/.test(token) || Buffer.from(token, "base64").toString("latin1").includes(":");
}

/**
 * `name=value`, `name: value`, `"name":"value"` (also with escaped quotes, as in JSON logged
 * inside JSON). The name is tested with {@link isSensitiveKey}; only then is the value replaced.
 * Groups: 1 the name's opening quote, 2 the name, 3 its closing quote and the separator, 4 an
 * auth scheme kept in the output (`Authorization: Bearer ...`), 5 the value.
 */
const namedValue = new RegExp(
  [
    String.raw`(?<![\w.-])`,
    String.raw`((?:\\*["'])?)`,
    String.raw`([A-Za-z][\w.-]{0,63})`,
    String.raw`((?:\\*["'])?\s*[:=]\s*)`,
    String.raw`((?:(?:Bearer|Basic|Digest|Token)\s+)?)`,
    "(",
    [
      String.raw`\[REDACTED[^\]]*\]`,
      String.raw`\\+"[^"]*?\\+"`,
      String.raw`"(?:[^"\\]|\\.)*"`,
      String.raw`'(?:[^'\\]|\\.)*'`,
      // An object or array value: only its opening bracket here, its end is found by counting.
      String.raw`[{\[]`,
      // A bare value ends where the next pair or the enclosing structure starts.
      String.raw`[^\s,;&?"'\x60<>(){}\[\]\\]+`,
    ].join("|"),
    ")",
  ].join(""),
  "gi",
);

/** Header lines whose value runs to the end of the line: `Cookie: a=1; b=2`. */
const wholeLineNames = /cookie|authorization/;

/**
 * Index just past the bracket closing the one at `start`, ignoring brackets inside quoted
 * strings. Unbalanced text (a truncated body) runs to the end: better too much hidden than a leak.
 */
function closingBracketEnd(text: string, start: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (quote !== undefined) {
      if (char === "\\") i++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === "{" || char === "[") {
      depth++;
    } else if ((char === "}" || char === "]") && --depth === 0) {
      return i + 1;
    }
  }
  return text.length;
}

/** `secret-loader.ts:45:12` in a stack trace names a file, not a secret. */
function isSourceLocation(name: string, separator: string, value: string): boolean {
  return separator === ":" && /^\d+(?::\d+)?$/.test(value) && /\.[A-Za-z]{1,5}$/.test(name);
}

/** Keep the value's own quotes (plain or escaped) so the surrounding JSON stays well-formed. */
function replaceQuoted(value: string): string {
  const open = /^\\*["']/.exec(value)?.[0] ?? "";
  const close = open === "" ? "" : (/\\*["']$/.exec(value)?.[0] ?? "");
  return `${open}${REDACTED}${close}`;
}

function redactNamedValues(text: string): string {
  namedValue.lastIndex = 0;
  let out = "";
  let copiedUpTo = 0;
  for (let match = namedValue.exec(text); match !== null; match = namedValue.exec(text)) {
    const [whole, openQuote = "", name = "", separator = "", scheme = "", value = ""] = match;
    const valueStart = match.index + openQuote.length + name.length + separator.length + scheme.length;
    const keep =
      !isSensitiveKey(name) ||
      // `SecretUnavailableError: Reading secret ...` heads a stack trace: a class name, not a field.
      /^[A-Z][A-Za-z0-9]*(?:Error|Exception)$/.test(name) ||
      value.startsWith("[REDACTED") ||
      /^(?:null|true|false)$/.test(value) ||
      isSourceLocation(name, separator.trim(), value);
    if (keep) {
      // An ARN or a secret's id is an identifier through and through: `arn:aws:secretsmanager:...:secret:x`
      // must not read as the pair `secret:x`. Any other value (a URL) may hold a secret pair: rescan it.
      const identifier = isSecretReference(name) || name.toLowerCase() === "arn";
      namedValue.lastIndex = identifier ? match.index + whole.length : valueStart - scheme.length;
      continue;
    }
    let valueEnd = match.index + whole.length;
    if (value === "{" || value === "[") {
      valueEnd = closingBracketEnd(text, valueStart);
    } else if (wholeLineNames.test(name.toLowerCase()) && !/^\\*["']/.test(value)) {
      const lineEnd = text.slice(valueEnd).search(/[\r\n"']/);
      valueEnd = lineEnd === -1 ? text.length : valueEnd + lineEnd;
    }
    out += text.slice(copiedUpTo, valueStart) + replaceQuoted(value);
    copiedUpTo = valueEnd;
    namedValue.lastIndex = valueEnd;
  }
  return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
}

/**
 * The AWS credentials of the running function. Matched by value because a session token has no
 * recognisable shape. Values shorter than 16 characters are local placeholders such as `local`,
 * which would blank ordinary words.
 */
const awsCredentialVariables = ["AWS_SESSION_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"];

/** Read afresh (tests and credential refreshes change them); `process.env` reads cost about 0.3 µs each. */
function currentAwsCredentials(): string[] {
  const values: string[] = [];
  for (const variable of awsCredentialVariables) {
    const value = process.env[variable];
    if (value !== undefined && value.length >= 16) values.push(value);
  }
  return values;
}

/**
 * The credentials as read when the serializer started the current document (the replacer's
 * root call), so a log line reads the environment once, not once per string in it.
 */
let credentialsOfThisDocument: string[] | undefined;

function redactAwsCredentialValues(text: string, credentials: string[]): string {
  let out = text;
  for (const value of credentials) {
    if (out.includes(value)) out = out.replaceAll(value, "[REDACTED aws credential]");
  }
  return out;
}

/** Everything but embedded JSON: known formats, `Basic` credentials, then sensitive pairs. */
function redactText(text: string): string {
  let out = text;
  for (const { mayMatch, pattern, replacement } of secretPatterns) {
    if (mayMatch(out)) out = out.replace(pattern, replacement);
  }
  if (/basic/i.test(out)) {
    out = out.replace(basicCredentials, (match: string, scheme: string, token: string) =>
      looksLikeBasicCredentials(token) ? `${scheme}${REDACTED}` : match,
    );
  }
  return out.includes(":") || out.includes("=") ? redactNamedValues(out) : out;
}

/** The span from the first `open` to the last `close`: where a JSON document quoted in text would sit. */
function bracketSpan(text: string, open: string, close: string): [number, number] | undefined {
  const start = text.indexOf(open);
  const end = text.lastIndexOf(close);
  return start !== -1 && end > start ? [start, end + 1] : undefined;
}

function parseJsonAt(text: string, [start, end]: [number, number]): object | undefined {
  try {
    const parsed: unknown = JSON.parse(text.slice(start, end));
    return typeof parsed === "object" && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * JSON inside a string (a request body, an API error quoted in a message, a header list) is
 * parsed and redacted structurally, so a secret-named key loses its whole value, object or not.
 * The object or array starting first is tried first. Text that does not parse is left to the
 * pattern passes.
 */
function redactEmbeddedJson(text: string): string | undefined {
  const object = bracketSpan(text, "{", "}");
  const array = bracketSpan(text, "[", "]");
  const spans = object && array && array[0] < object[0] ? [array, object] : [object, array];
  for (const span of spans) {
    if (span === undefined) continue;
    const parsed = parseJsonAt(text, span);
    if (parsed === undefined) continue;
    const [start, end] = span;
    return redactText(text.slice(0, start)) + JSON.stringify(parsed, redactingReplacer) + redactText(text.slice(end));
  }
  return undefined;
}

/**
 * Replaces every secret-looking substring of a string: FLXBL keys, signing secrets, Stripe keys,
 * AWS access key ids and the function's own AWS credentials, `Bearer` and `Basic` credentials,
 * webhook signatures, URL passwords, secret query parameters, and the value of any
 * secret-named pair (`password=...`, `"apiKey":"..."`, `client_secret: ...`), also inside JSON
 * embedded in the string.
 *
 * @example
 * ```ts
 * redactString("refused key flxbl_AbCd1234_notARealKey"); // "refused key [REDACTED flxbl key]"
 * redactString("GET /orders?token=abc&page=2"); // "GET /orders?token=[REDACTED]&page=2"
 * ```
 */
export function redactString(text: string): string {
  return redactStringWith(text, currentAwsCredentials());
}

function redactStringWith(text: string, credentials: string[]): string {
  const out = redactAwsCredentialValues(text, credentials);
  return redactEmbeddedJson(out) ?? redactText(out);
}

// ---------------------------------------------------------------------------------------------
// Structures JSON.stringify would otherwise print as-is
// ---------------------------------------------------------------------------------------------

/** Header-name-shaped strings only, so a sentence mentioning a token does not hide its neighbour. */
const headerName = /^[A-Za-z][\w.-]{0,63}$/;

/**
 * Header tuples (`[["authorization", "Bearer x"]]`) and Node's flat `rawHeaders`
 * (`["Host", "a", "X-Api-Key", "b"]`) put a value right after its name: a string following a
 * sensitive name is redacted. Returns `array` itself when nothing needs hiding.
 */
function redactValuesAfterNames(array: unknown[]): unknown[] {
  let copy: unknown[] | undefined;
  for (let i = 1; i < array.length; i++) {
    const name = array[i - 1];
    if (typeof array[i] === "string" && typeof name === "string" && headerName.test(name) && isSensitiveKey(name)) {
      copy ??= [...array];
      copy[i] = REDACTED;
      i++; // a value is not the name of the element after it
    }
  }
  return copy ?? array;
}

/**
 * Byte count of binary data, which is never decoded into the log (it may hold a key or a signed
 * body). Buffers reach the replacer already turned into `{type: "Buffer", data: [...]}` by
 * their `toJSON`; typed arrays, DataViews and ArrayBuffers arrive as themselves.
 */
function binaryLength(value: object): number | undefined {
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return value.byteLength;
  const { type, data } = value as { type?: unknown; data?: unknown };
  return type === "Buffer" && Array.isArray(data) ? data.length : undefined;
}

/** Views this module made, so the serializer does not wrap them again when it meets them. */
const errorViews = new WeakSet<object>();
const maxCauseDepth = 16;

function defineEnumerable(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * JSON.stringify prints an Error as `{}` (its message, stack and cause are not enumerable), and
 * Powertools' own error formatter follows `cause` without a cycle check. So an Error becomes a
 * view: same prototype (the logger still formats it as an error), with `name`, `message`,
 * `stack`, `cause`, `errors` and own properties enumerable, so the serializer walks each one
 * through this replacer. Errors among them are viewed here too, so a chain that loops back
 * (`a.cause = b; b.cause = a`, `err.self = err`) ends in `"[Circular]"` instead of recursing.
 */
function errorView(error: Error, ancestors: Error[] = []): Error | string {
  if (errorViews.has(error)) return error;
  if (ancestors.includes(error)) return "[Circular]";
  if (ancestors.length >= maxCauseDepth) return "[...]";
  const nested = [...ancestors, error];
  const viewOf = (value: unknown) => (value instanceof Error ? errorView(value, nested) : value);

  const view = Object.create(Object.getPrototypeOf(error)) as Error;
  errorViews.add(view);
  defineEnumerable(view, "name", error.name);
  defineEnumerable(view, "message", error.message);
  defineEnumerable(view, "stack", error.stack);
  if ("cause" in error) defineEnumerable(view, "cause", viewOf(error.cause));
  const { errors } = error as { errors?: unknown };
  if (Array.isArray(errors)) defineEnumerable(view, "errors", errors.map(viewOf));
  for (const [key, value] of Object.entries(error)) {
    if (!Object.hasOwn(view, key)) defineEnumerable(view, key, viewOf(value));
  }
  return view;
}

function redactObject(value: object): unknown {
  if (Array.isArray(value)) return redactValuesAfterNames(value);
  if (value instanceof Error) {
    try {
      return errorView(value);
    } catch {
      // A getter on the error threw; logging must not.
      return "[unreadable error]";
    }
  }
  const bytes = binaryLength(value);
  return bytes === undefined ? value : `[binary ${bytes} bytes]`;
}

/**
 * A `JSON.stringify` replacer that hides secrets wherever they sit: the whole value under a
 * secret-named key (see {@link isSensitiveKey}: `authorization`, `x-api-key`, `client_secret`,
 * `AWS_SESSION_TOKEN`, ...), header values after a secret header name in tuples and
 * `rawHeaders` arrays, and secret-shaped substrings of any string (see {@link redactString}).
 * Binary data becomes `"[binary N bytes]"`; Errors are expanded so their message, stack, cause
 * and properties are serialized and redacted too.
 *
 * @example
 * ```ts
 * JSON.stringify({ headers: { Authorization: "Bearer flxbl_..." } }, redactingReplacer);
 * // {"headers":{"Authorization":"[REDACTED]"}}
 * ```
 */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (key === "") credentialsOfThisDocument = currentAwsCredentials();
  if (value === undefined || value === null) return value;
  if (key !== "" && isSensitiveKey(key)) return REDACTED;
  if (typeof value === "string") return redactStringWith(value, credentialsOfThisDocument ?? currentAwsCredentials());
  if (typeof value === "object") return redactObject(value);
  return value;
}

/**
 * A deep copy of `value` with secrets redacted as {@link redactingReplacer} does. Unlike a bare
 * `JSON.stringify`, it does not throw on cycles (`"[Circular]"`) or BigInts (decimal strings).
 *
 * @example
 * ```ts
 * redact({ apiKey: "flxbl_abcdefgh_..." }); // { apiKey: "[REDACTED]" }
 * ```
 */
export function redact<T>(value: T): T {
  if (value === undefined) return value;
  // The objects being serialized, outermost first, with what the replacer made of each.
  const holders: unknown[] = [];
  const originals: unknown[] = [];
  const json = JSON.stringify(value, function (this: unknown, key: string, original: unknown) {
    const replaced = redactingReplacer(key, original);
    if (typeof replaced === "bigint") return replaced.toString();
    if (typeof replaced !== "object" || replaced === null) return replaced;
    while (holders.length > 0 && holders.at(-1) !== this) {
      holders.pop();
      originals.pop();
    }
    if (holders.includes(replaced) || originals.includes(original)) return "[Circular]";
    holders.push(replaced);
    originals.push(original);
    return replaced;
  });
  return (json === undefined ? undefined : JSON.parse(json)) as T;
}
