import { isSensitiveKey, redact, redactString, signatureScheme, signatureSchemeNames } from "@flxbl-lambda/core";

/**
 * What the console shows of a delivery, an answer or a log line: core's redaction (secret-named
 * keys, secret shapes inside strings), plus every header a registered signature scheme signs
 * with, whatever its name (`x-shopify-hmac-sha256` names no secret word, yet carries the HMAC).
 */

const masked = "[REDACTED]";

/** The registered schemes' signature headers, by the names registered when last computed. */
let signatureHeaderCache: { names: string; headers: Set<string> } | undefined;

/**
 * The header names any registered scheme puts a signature in: those whose value changes when the
 * same delivery is signed with another secret. Asked of the schemes themselves, so a scheme
 * registered later is covered without a list kept here.
 */
export function signatureHeaders(): ReadonlySet<string> {
  const names = signatureSchemeNames();
  if (signatureHeaderCache?.names === names.join(",")) return signatureHeaderCache.headers;
  const headers = new Set<string>();
  const delivery = { id: "msg_probe", type: "probe", timestampSeconds: 1_700_000_000 };
  for (const name of names) {
    const scheme = signatureScheme(name);
    const a = scheme.sign("{}", scheme.newSecret(), delivery);
    const b = scheme.sign("{}", scheme.newSecret(), delivery);
    for (const [header, value] of Object.entries(a)) if (b[header] !== value) headers.add(header.toLowerCase());
  }
  signatureHeaderCache = { names: names.join(","), headers };
  return headers;
}

/** Headers with signature and secret-named values replaced, and secret shapes in the others hidden. */
export function maskHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string> {
  const signing = signatureHeaders();
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(", ") : value;
    out[name] = signing.has(name.toLowerCase()) || isSensitiveKey(name) ? masked : redactString(text);
  }
  return out;
}

/** A body as text for reading: JSON redacted structurally and indented, anything else redacted as text. */
export function maskBody(body: string | undefined): string | undefined {
  if (body === undefined || body === "") return body;
  try {
    return JSON.stringify(redact(JSON.parse(body) as unknown), null, 2);
  } catch {
    return redactString(body);
  }
}

/** Any value (an event, a job's summary) with secrets redacted. */
export const maskValue = <T>(value: T): T => redact(value);
