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
 * sign the id either (both of those send it in a header outside the signature), a captured
 * delivery can be sent again under a new id, so their handlers must be idempotent by content.
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
 *     if (!secrets.some((s) => safeEqual(Buffer.from(given, "hex"), hmacSha256(s, body))))
 *       throw new WebhookSignatureError("no matching signature", "Check the secret in signingSecrets");
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
   * (and the timestamp window where the scheme signs one). Throws `WebhookSignatureError` naming
   * the failed check; returns nothing when the delivery is genuine.
   */
  verify(delivery: WebhookDelivery, options: VerifyOptions): void;
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

const registry = new Map<string, SignatureScheme>();

/**
 * Adds a scheme to the registry, so manifest entries may name it. Registering the same object
 * again is harmless; another object under a taken name is refused.
 *
 * @example
 * ```ts
 * registerSignatureScheme(githubScheme); // the same object again: harmless
 * registerSignatureScheme({ ...githubScheme }); // throws TypeError: A signature scheme named "github" is registered already
 * ```
 */
export function registerSignatureScheme<S extends SignatureScheme>(scheme: S): S {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(scheme.name))
    throw new TypeError(`Signature scheme name "${scheme.name}" must be kebab-case`);
  const taken = registry.get(scheme.name);
  if (taken && taken !== scheme) throw new TypeError(`A signature scheme named "${scheme.name}" is registered already`);
  registry.set(scheme.name, scheme);
  return scheme;
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
  const scheme = registry.get(name);
  if (!scheme)
    throw new UnknownSignatureSchemeError(
      `"${name}" is not a registered signature scheme (registered: ${signatureSchemeNames().join(", ")}); register it with registerSignatureScheme before the manifest is defined`,
    );
  return scheme;
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
