/**
 * Which property, header or parameter names hold a secret. One rule serves object keys, header
 * tuples, `rawHeaders` arrays and `name=value` pairs in free text, so they cannot drift apart.
 */

/**
 * Names that only *point at* a secret (where to load it from, which key signed) and that
 * operators need in the log to debug a rotation or a refused key. A normalized name that ends
 * in one of these is never sensitive, so `webhookSecretArn` and `apiKeyId` stay visible too.
 */
const allowedSuffixes = [
  "secretid",
  "secretids",
  "secretarn",
  "secretarns",
  "secretname",
  "secretnames",
  "secretversionid",
  "keyid",
  "keyids",
  "previouskeyid",
  "tokentype",
];

/** Words that mark a secret wherever they sit in the name: `x-amz-security-token`, `clientSecret`, `setCookie`. */
const sensitiveWords = /secret|passw(?:or)?d|passphrase|token|apikey|authorization|credential|cookie|session|signature/;

/** `key` alone is usually an id or a lookup key; these prefixes make it the secret itself. */
const sensitiveKeySuffix = /(?:api|admin|private|access|secret|signing|session|master|encryption|client|auth)keys?$/;

/** Short names too generic to search for inside longer names (`signal`, `author`), so matched whole. */
const sensitiveExactNames = new Set(["auth", "pwd", "sig"]);

/** Log lines repeat the same few keys, so remember recent answers; cleared when full to bound memory. */
const verdicts = new Map<string, boolean>();
const maxVerdicts = 1024;

/** `X-Api-Key`, `x_api_key`, `xApiKey` and `X API Key` all become `xapikey`. */
function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.\s]/g, "");
}

const namesAReference = (normalized: string) => allowedSuffixes.some((suffix) => normalized.endsWith(suffix));

/** Whether the name identifies a secret without holding it (`secretArn`, `keyId`): its value is safe to log. */
export function isSecretReference(name: string): boolean {
  return namesAReference(normalizeName(name));
}

function decide(name: string): boolean {
  const normalized = normalizeName(name);
  if (namesAReference(normalized)) return false;
  return sensitiveExactNames.has(normalized) || sensitiveWords.test(normalized) || sensitiveKeySuffix.test(normalized);
}

/**
 * Whether a property, header or parameter name holds a secret. The name is lower-cased and
 * stripped of `-`, `_`, `.` and spaces, then it is sensitive when it contains `secret`,
 * `password`/`passwd`, `passphrase`, `token`, `apikey`, `authorization`, `credential`, `cookie`,
 * `session` or `signature`; ends in `apikey`, `adminkey`, `privatekey`, `accesskey`, `secretkey`,
 * `signingkey`, `sessionkey`, `masterkey`, `encryptionkey`, `clientkey` or `authkey` (or their
 * plurals); or is exactly `auth`, `pwd` or `sig`. Names that only identify a secret
 * (`secretId`, `secretArn`, `secretName`, `keyId`, `previousKeyId`, `tokenType`, and names ending
 * in them) are not sensitive.
 *
 * @example
 * ```ts
 * isSensitiveKey("X-Api-Key"); // true
 * isSensitiveKey("AWS_SESSION_TOKEN"); // true
 * isSensitiveKey("secretArn"); // false
 * ```
 */
export function isSensitiveKey(name: string): boolean {
  const known = verdicts.get(name);
  if (known !== undefined) return known;
  const verdict = decide(name);
  if (verdicts.size >= maxVerdicts) verdicts.clear();
  verdicts.set(name, verdict);
  return verdict;
}
