import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * A webhook delivery as a scheme sees it: the raw body, exactly as received, and the headers with
 * lower-cased names (as API Gateway's HTTP API passes them).
 *
 * @example
 * ```ts
 * const delivery: WebhookDelivery = { body: Buffer.from(rawBody), headers: { "x-github-event": "push" } };
 * ```
 */
export interface WebhookDelivery {
  body: Buffer;
  headers: Readonly<Record<string, string | undefined>>;
}

/**
 * What a scheme checks a delivery against.
 *
 * @example
 * ```ts
 * const options: VerifyOptions = { secrets: ["whsec_..."], toleranceSeconds: 300, now: Date.now };
 * ```
 */
export interface VerifyOptions {
  /** Every active signing secret of the function (any may match, so a sender can roll its secret). */
  secrets: readonly string[];
  /** Largest distance between a signed timestamp and now, for schemes that sign one. */
  toleranceSeconds: number;
  /** Clock in epoch ms. */
  now: () => number;
}

/**
 * How one kind of sender signs its webhooks: a plug-in object the webhook middleware asks, never
 * switching on its name. Register it with {@link registerSignatureScheme} and name it in a
 * manifest entry's `signature`.
 *
 * Schemes that sign no timestamp (GitHub, Shopify) cannot refuse a replay by age: their replay
 * protection is the event id (a repeated id gets the stored answer). Where the sender does not
 * sign the id either (both of those send it, and the event type, in headers outside the
 * signature), a captured delivery can be sent again under a new id or another type, so their
 * handlers must be idempotent by content and check what the body says.
 *
 * The registry keeps a frozen copy: once registered, a scheme cannot be changed or replaced, its
 * `verify` only ever sees secrets of at least {@link minSigningSecretBytes} bytes of key, and
 * anything it returns but `true` (`false`, `undefined`, a promise) is a refusal.
 *
 * @example
 * ```ts
 * import { randomBytes } from "node:crypto";
 *
 * export const acmeScheme = registerSignatureScheme({
 *   name: "acme",
 *   signsTimestamp: false,
 *   signsEventId: false,
 *   verify({ body, headers }, { secrets }) {
 *     const given = headers["x-acme-signature"];
 *     if (!given) throw new WebhookSignatureError("missing signature headers", "Acme sends X-Acme-Signature");
 *     return secrets.some((s) => safeEqual(Buffer.from(given, "hex"), hmacSha256(s, body)));
 *   },
 *   eventId: (delivery) => headerValue(delivery, "x-acme-delivery"),
 *   eventType: (delivery) => headerValue(delivery, "x-acme-event"),
 *   keyBytes: (secret) => Buffer.byteLength(secret),
 *   newSecret: () => randomBytes(32).toString("hex"),
 *   sign: (body, secret, { id, type }) => ({
 *     "x-acme-signature": hmacSha256(secret, body).toString("hex"),
 *     "x-acme-delivery": id,
 *     "x-acme-event": type,
 *   }),
 *   sampleBody: (_type, _id, data) => data,
 * });
 * ```
 */
export interface SignatureScheme {
  /** What a manifest entry's `signature` says: kebab-case, unique. */
  readonly name: string;
  /** Whether the signature covers a timestamp, so deliveries outside the tolerance window are refused. */
  readonly signsTimestamp: boolean;
  /** Whether the signature covers the event id (so the id can be trusted as much as the body). */
  readonly signsEventId: boolean;
  /**
   * Checks the delivery's signature over the raw bytes, in constant time, against every secret
   * (and the timestamp window where the scheme signs one). Returns `true` only when the delivery
   * is genuine; `false` when no secret matches, or throws `WebhookSignatureError` naming the
   * failed check (a missing or malformed header, a stale timestamp). Synchronous: a promise is a
   * refusal.
   */
  verify(delivery: WebhookDelivery, options: VerifyOptions): boolean;
  /** The sender's id of the event (a header, or a field of the parsed body): the idempotency key. */
  eventId(delivery: WebhookDelivery, payload: Record<string, unknown>): string | undefined;
  /** The event's type (`push`, `orders/create`, `payment_intent.succeeded`). */
  eventType(delivery: WebhookDelivery, payload: Record<string, unknown>): string | undefined;
  /**
   * What must be the same when an id is seen again; a delivery with a known id and another
   * payload is refused (409). @default the whole parsed body
   */
  comparable?(payload: Record<string, unknown>): unknown;
  /** How many bytes of HMAC key a signing secret gives (fewer than 24 are refused). */
  keyBytes(secret: string): number;
  /** A new signing secret of the shape the sender uses, for provisioning and local runs. */
  newSecret(): string;
  /** Signs a body as the sender does: the headers to send with it (tests, `npm run webhook`). */
  sign(
    body: string,
    secret: string,
    delivery: { id: string; type: string; timestampSeconds: number },
  ): Record<string, string>;
  /** A body of an event of `type` carrying `data`, as the sender would send it (`npm run webhook`). */
  sampleBody(type: string, id: string, data: Record<string, unknown>): Record<string, unknown>;
}

/**
 * The name of a registered scheme: a built-in one, or one you registered.
 *
 * @example
 * ```ts
 * const scheme: SignatureSchemeName = "github";
 * ```
 */
export type SignatureSchemeName = "stripe" | "standard-webhooks" | "github" | "shopify" | (string & {});

/**
 * A manifest or a lookup named a scheme nobody registered.
 *
 * @example
 * ```ts
 * signatureScheme("gitlab"); // throws UnknownSignatureSchemeError: ... registered: github, shopify, standard-webhooks, stripe
 * ```
 */
export class UnknownSignatureSchemeError extends Error {
  override name = "UnknownSignatureSchemeError";
}

/**
 * The fewest key bytes a signing secret may have: shorter ones are refused when provisioning, when
 * a webhook loads them, and by every registered scheme's `verify` (an HMAC key that short is
 * guessable, and an empty one is no key).
 *
 * @example
 * ```ts
 * if (signatureScheme("github").keyBytes(secret) < minSigningSecretBytes) throw new Error("too short");
 * ```
 */
export const minSigningSecretBytes = 24;

/** What was registered under a name, and the frozen, guarded scheme the registry hands out. */
const registry = new Map<string, { given: SignatureScheme; scheme: SignatureScheme }>();

const functionMembers = ["verify", "eventId", "eventType", "keyBytes", "newSecret", "sign", "sampleBody"] as const;

/** The scheme as the registry hands it out: frozen, `verify` held to its contract. */
function guarded(given: SignatureScheme): SignatureScheme {
  // Members read one by one and bound, so a class instance's methods (on its prototype) come along.
  return Object.freeze({
    name: given.name,
    signsTimestamp: given.signsTimestamp,
    signsEventId: given.signsEventId,
    eventId: given.eventId.bind(given),
    eventType: given.eventType.bind(given),
    ...(given.comparable ? { comparable: given.comparable.bind(given) } : {}),
    keyBytes: given.keyBytes.bind(given),
    newSecret: given.newSecret.bind(given),
    sign: given.sign.bind(given),
    sampleBody: given.sampleBody.bind(given),
    verify(delivery: WebhookDelivery, options: VerifyOptions): boolean {
      const secrets = options.secrets.filter((secret) => given.keyBytes(secret) >= minSigningSecretBytes);
      if (secrets.length === 0) return false;
      const verdict: unknown = given.verify(delivery, { ...options, secrets });
      // A promise is not a verdict (and its rejection is not left unhandled).
      if (verdict instanceof Promise) verdict.catch(() => undefined);
      return verdict === true;
    },
  });
}

/**
 * Adds a scheme to the registry, so manifest entries may name it, and returns the registered
 * scheme: a frozen copy whose `verify` sees only secrets of at least {@link minSigningSecretBytes}
 * bytes of key and whose verdict is `true` or a refusal. Registering the same object (or the
 * returned one) again is harmless; another object under a taken name, a built-in's included, is
 * refused.
 *
 * @example
 * ```ts
 * registerSignatureScheme(githubScheme); // the registered scheme again: harmless
 * registerSignatureScheme({ ...githubScheme }); // throws TypeError: A signature scheme named "github" is registered already
 * ```
 */
export function registerSignatureScheme(scheme: SignatureScheme): SignatureScheme {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(scheme.name))
    throw new TypeError(`Signature scheme name "${scheme.name}" must be kebab-case`);
  const taken = registry.get(scheme.name);
  if (taken) {
    if (taken.given === scheme || taken.scheme === scheme) return taken.scheme;
    throw new TypeError(`A signature scheme named "${scheme.name}" is registered already`);
  }
  const missing = functionMembers.filter((member) => typeof scheme[member] !== "function");
  if (typeof scheme.signsTimestamp !== "boolean") missing.push("signsTimestamp" as never);
  if (typeof scheme.signsEventId !== "boolean") missing.push("signsEventId" as never);
  if (missing.length > 0)
    throw new TypeError(`Signature scheme "${scheme.name}" lacks ${missing.join(", ")} (see SignatureScheme)`);
  const registered = guarded(scheme);
  registry.set(scheme.name, { given: scheme, scheme: registered });
  return registered;
}

/**
 * The registered scheme of that name; throws {@link UnknownSignatureSchemeError} listing the
 * registered ones.
 *
 * @example
 * ```ts
 * const headers = signatureScheme("github").sign(body, secret, { id: "delivery-1", type: "push", timestampSeconds: 0 });
 * ```
 */
export function signatureScheme(name: string): SignatureScheme {
  const scheme = registry.get(name)?.scheme;
  if (!scheme) {
    const names = signatureSchemeNames();
    const near = names.find((known) => editDistance(known, name) <= Math.max(1, Math.floor(known.length / 4)));
    throw new UnknownSignatureSchemeError(
      `"${name}" is not a registered signature scheme (registered: ${names.join(", ")}); ${near ? `did you mean "${near}"? A scheme of your own must be registered` : "register it"} with registerSignatureScheme, in a file the manifest imports, before the manifest is defined`,
    );
  }
  return scheme;
}

/** Levenshtein distance, for "did you mean" on a mistyped scheme name. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The names of every registered scheme, sorted.
 *
 * @example
 * ```ts
 * signatureSchemeNames(); // ["github", "shopify", "standard-webhooks", "stripe"]
 * ```
 */
export function signatureSchemeNames(): string[] {
  return [...registry.keys()].sort();
}

/**
 * HMAC-SHA256 of the parts with `key`: the primitive every built-in scheme signs with.
 *
 * @example
 * ```ts
 * hmacSha256("secret", Buffer.from(body)).toString("hex");
 * ```
 */
export function hmacSha256(key: string | Buffer, ...parts: Array<string | Buffer>): Buffer {
  const hmac = createHmac("sha256", key);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

/**
 * Constant-time comparison of two byte strings; `false` (not a throw) when the lengths differ.
 *
 * @example
 * ```ts
 * safeEqual(Buffer.from("a1b2", "hex"), Buffer.from("a1b2", "hex")); // true
 * safeEqual(Buffer.from("a1b2", "hex"), Buffer.from("a1", "hex")); // false
 * ```
 */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A delivery's header (lower-case name), trimmed; undefined when absent or empty.
 *
 * @example
 * ```ts
 * const id = headerValue({ body: Buffer.from(rawBody), headers: event.headers }, "x-github-delivery");
 * ```
 */
export function headerValue(delivery: WebhookDelivery, name: string): string | undefined {
  const value = delivery.headers[name]?.trim();
  return value ? value : undefined;
}
