const pattern = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Parses an ISO 8601 duration of weeks, days, hours, minutes and seconds (`PT24H`, `P2DT12H`,
 * `PT0S`) into milliseconds. Years and months are refused: their length depends on the calendar.
 * A hand-written parser: one regular expression does it, and Node 22 has no `Temporal` yet.
 *
 * @example
 * ```ts
 * parseDuration("PT24H"); // 86400000
 * ```
 */
export function parseDuration(text: string): number {
  const m = pattern.exec(text.trim());
  if (!m || text.trim() === "P" || text.trim().endsWith("T")) {
    throw new Error(
      `"${text}" is not an ISO 8601 duration like PT24H, P2D or PT30M (years and months are not accepted)`,
    );
  }
  const [, w, d, h, min, s] = m.map((v) => (v === undefined ? 0 : Number(v)));
  return ((((w ?? 0) * 7 + (d ?? 0)) * 24 + (h ?? 0)) * 60 + (min ?? 0)) * 60_000 + (s ?? 0) * 1000;
}
