import { types } from "node:util";
import { isSensitiveKey, redact, redactString } from "./redact.js";

/**
 * An error that escapes a Lambda handler bypasses the logger: the runtime prints its type,
 * message, stack, cause and own properties, and copies type, message and stack into the failure
 * destination. These helpers redact all of those parts before the error is rethrown.
 */

/** Errors already handled in this call, mapped to what replaced them: cause cycles end here. */
type Seen = Map<Error, Error>;

/** One part of an error and its redacted value; `changed` is false when the value is the same one. */
interface Part {
  key: string;
  value: unknown;
  changed: boolean;
  enumerable: boolean;
}

/** Parts that are not enumerable on a native Error but that the runtime prints all the same. */
const builtInKeys = ["name", "message", "stack", "cause", "errors"];

/**
 * Data gets a redacted deep copy only when redaction changes something, so an error's
 * non-secret `summary` keeps its identity and its Dates and class instances.
 */
function redactData(value: object): unknown {
  let copy: unknown;
  try {
    copy = redact(value);
  } catch {
    // A getter threw while copying: nothing of it can be shown safely.
    return "[REDACTED: unserializable value]";
  }
  try {
    return JSON.stringify(value) === JSON.stringify(copy) ? value : copy;
  } catch {
    // Cycles or BigInts: only the copy (which `redact` made safe) can be compared and kept.
    return copy;
  }
}

/** Errors from another realm (a `vm` context) fail `instanceof Error` but are errors all the same. */
const isError = (value: unknown): value is Error => value instanceof Error || types.isNativeError(value);

const unreadable = "[REDACTED: unreadable property]";

/** A property's value, or a placeholder when its getter throws: one bad getter must not lose the rest. */
function readProperty(target: object, key: string): unknown {
  try {
    return Reflect.get(target, key);
  } catch {
    return unreadable;
  }
}

function sanitizeValue(value: unknown, seen: Seen): unknown {
  if (typeof value === "string") return redactString(value);
  if (isError(value)) return sanitizeErrorObject(value, seen);
  if (typeof value === "object" && value !== null) return redactData(value);
  return value;
}

function sanitizeProperty(key: string, value: unknown, seen: Seen): unknown {
  if (isSensitiveKey(key) && value !== undefined && value !== null) return "[REDACTED]";
  return sanitizeValue(value, seen);
}

function part(key: string, original: unknown, value: unknown, enumerable: boolean): Part {
  return { key, value, changed: !Object.is(original, value), enumerable };
}

/** The redacted message, stack, cause, `AggregateError.errors` and own enumerable properties. */
function sanitizedParts(error: Error, seen: Seen): Part[] {
  const parts: Part[] = [];
  for (const key of ["message", "stack"]) {
    const text = readProperty(error, key);
    if (typeof text === "string") parts.push(part(key, text, redactString(text), false));
  }
  if ("cause" in error) {
    const cause = readProperty(error, "cause");
    parts.push(part("cause", cause, sanitizeValue(cause, seen), false));
  }
  const errors = readProperty(error, "errors");
  if (Array.isArray(errors)) {
    const sanitized = errors.map((inner) => sanitizeValue(inner, seen));
    const changed = sanitized.some((inner, i) => !Object.is(inner, errors[i]));
    parts.push({ key: "errors", value: changed ? sanitized : errors, changed, enumerable: false });
  }
  for (const key of Object.keys(error)) {
    if (builtInKeys.includes(key)) continue;
    const value = readProperty(error, key);
    parts.push(part(key, value, sanitizeProperty(key, value, seen), true));
  }
  return parts;
}

/** Whether every part could be overwritten on the error itself (not frozen, no read-only property). */
function isEditable(error: Error): boolean {
  if (!Object.isExtensible(error) && !Object.hasOwn(error, "message")) return false;
  for (const key of [...builtInKeys, ...Object.keys(error)]) {
    if (key === "name") continue; // kept as it is, so it may be read-only
    const descriptor = Object.getOwnPropertyDescriptor(error, key);
    if (descriptor === undefined) continue;
    if ("value" in descriptor ? !descriptor.writable : descriptor.set === undefined) return false;
  }
  return true;
}

/** Writes through setters (V8's `stack` is an accessor); reads back because a setter may ignore it. */
function overwrite(target: object, key: string, value: unknown): boolean {
  try {
    if (!Object.hasOwn(target, key)) {
      return Reflect.defineProperty(target, key, { value, writable: true, enumerable: false, configurable: true });
    }
    return Reflect.set(target, key, value) && Object.is(Reflect.get(target, key), value);
  } catch {
    return false;
  }
}

/** A plain Error standing in for one that cannot be changed: same name, the redacted parts. */
function plainCopy(error: Error): Error {
  const copy = new Error();
  const nameDescriptor = Object.getOwnPropertyDescriptor(error, "name");
  Object.defineProperty(copy, "name", {
    value: String(error.name),
    writable: true,
    enumerable: nameDescriptor?.enumerable ?? false,
    configurable: true,
  });
  // Without the original's stack, the copy's own would point at this file: drop it.
  delete copy.stack;
  return copy;
}

function fillCopy(copy: Error, parts: Part[]): Error {
  for (const { key, value, enumerable } of parts) {
    Object.defineProperty(copy, key, { value, writable: true, enumerable, configurable: true });
  }
  return copy;
}

function sanitizeErrorObject(error: Error, seen: Seen): Error {
  const done = seen.get(error);
  if (done !== undefined) return done;
  if (!isEditable(error)) {
    // Registered before its parts are sanitized, so a cause that loops back gets the copy.
    const copy = plainCopy(error);
    seen.set(error, copy);
    return fillCopy(copy, sanitizedParts(error, seen));
  }
  seen.set(error, error);
  const parts = sanitizedParts(error, seen);
  if (parts.every((p) => !p.changed || overwrite(error, p.key, p.value))) return error;
  const copy = plainCopy(error);
  seen.set(error, copy);
  return fillCopy(copy, parts);
}

/** What `sanitizeError` returns if redaction itself failed: nothing of the original but its name. */
function lastResort(value: unknown): Error {
  const fallback = new Error("[REDACTED: the error could not be sanitized]");
  try {
    if (value instanceof Error && typeof value.name === "string") fallback.name = value.name;
  } catch {
    // A throwing `name` getter: keep "Error".
  }
  return fallback;
}

/**
 * Redacts an error before it leaves a Lambda handler, where the runtime prints it and copies it
 * into the failure destination without going through the logger. The message, stack, `cause`
 * chain (recursively, cycles included), `AggregateError.errors` and own enumerable properties
 * (a job's `summary` with per-record error strings) are redacted as {@link redactString} and
 * {@link redactingReplacer} do, in place, so `name`, the prototype (`instanceof`) and non-secret
 * data are kept. An error that cannot be changed (frozen, read-only message) is replaced by a
 * plain `Error` with the same name and the redacted parts. Anything else thrown is redacted too:
 * a string becomes the redacted string, an object a redacted copy. Never throws.
 *
 * @example
 * ```ts
 * try {
 *   return await handler(event, context);
 * } catch (err) {
 *   throw sanitizeError(err);
 * }
 * ```
 */
export function sanitizeError(err: unknown): unknown {
  try {
    return sanitizeValue(err, new Map());
  } catch {
    return lastResort(err);
  }
}
