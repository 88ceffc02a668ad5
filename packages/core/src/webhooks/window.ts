import { WebhookSignatureError } from "./errors.js";

/**
 * The checks both signature schemes share: the signed timestamp within `toleranceSeconds` of
 * now, either way (a replay, or a sender's clock out of sync, fails).
 */
export function assertWithinTolerance(
  timestampSeconds: number,
  options: { toleranceSeconds?: number; now?: () => number },
): void {
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  if (Math.abs(nowSeconds - timestampSeconds) > tolerance) {
    throw new WebhookSignatureError(
      "timestamp outside the tolerance window",
      `Signed ${nowSeconds - timestampSeconds} s ago, tolerance ${tolerance} s: a replay, or a clock out of sync`,
    );
  }
}

/** The raw body as bytes: signatures are over bytes, never over a re-serialised object. */
export function payloadBytes(payload: string | Buffer): Buffer {
  return typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
}
