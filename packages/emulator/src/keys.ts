import { createHash, randomBytes, randomUUID } from "node:crypto";

/** What an operation on the Dynamic API needs: `entity:Order:read`, `relationship:HAS_ALERT:create`. */
export type Operation = "create" | "read" | "update" | "delete";

const scopePattern = /^(entity|relationship):([A-Za-z][A-Za-z0-9_]*|\*):(create|read|update|delete|\*)$/;

/** Whether a string follows the documented scope grammar. */
export function isScope(value: unknown): value is string {
  return typeof value === "string" && scopePattern.test(value);
}

/**
 * Whether any of `scopes` covers `{kind}:{name}:{op}`, wildcards included.
 *
 * Written here rather than shared with the client's scope guard on purpose: the emulator is
 * the reference the client is tested against, so a bug in one must not hide in both.
 */
export function covers(scopes: readonly string[], kind: "entity" | "relationship", name: string, op: Operation) {
  return scopes.some((scope) => {
    const m = scopePattern.exec(scope);
    return m !== null && m[1] === kind && (m[2] === "*" || m[2] === name) && (m[3] === "*" || m[3] === op);
  });
}

const keyPattern = /^flxbl_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{16,})$/;

/** Whether a token has the documented key shape `flxbl_<8 chars>_<secret>`. */
export function isKeyShaped(token: string): boolean {
  return keyPattern.test(token);
}

/** SHA-256 of a key: what the store keeps instead of the key. */
export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

function randomChars(n: number): string {
  const bytes = randomBytes(n);
  let out = "";
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

/** A new key `flxbl_<8>_<32>` with its public prefix and its id `key_...`. */
export function generateKey(): { id: string; key: string; prefix: string } {
  const prefix = `flxbl_${randomChars(8)}`;
  return { id: `key_${randomUUID().replaceAll("-", "")}`, key: `${prefix}_${randomChars(32)}`, prefix };
}
