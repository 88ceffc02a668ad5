/** One line of the bench's table: a measure of ours beside its baseline and its target. */
export interface TableRow {
  fig: string;
  measure: string;
  ours: string;
  baseline: string;
  /** Ours against the baseline: a ratio or a difference. */
  versus: string;
  target: string;
  /** "yes" / "no" when the line has a target, "" when it is context. */
  met: "yes" | "no" | "";
}

const headers: Record<keyof TableRow, string> = {
  fig: "fig",
  measure: "measure",
  ours: "ours",
  baseline: "baseline",
  versus: "ours vs baseline",
  target: "target",
  met: "met",
};

/** A Markdown table (aligned, so it reads in a terminal and pastes into a README as is). */
export function markdownTable(rows: readonly TableRow[]): string {
  const keys = Object.keys(headers) as Array<keyof TableRow>;
  const widths = keys.map((k) => Math.max(headers[k].length, ...rows.map((r) => r[k].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [
    line(keys.map((k) => headers[k])),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map((r) => line(keys.map((k) => r[k]))),
  ].join("\n");
}

export const met = (ok: boolean): "yes" | "no" => (ok ? "yes" : "no");

/** Formats: µs, ms, MiB, KiB, ratios, counts. */
export const fmt = {
  us: (n: number) => `${Math.round(n).toLocaleString("en-US")} µs`,
  ms: (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString("en-US")} ms`,
  mib: (bytes: number) => `${(bytes / 1048576).toFixed(0)} MiB`,
  kib: (bytes: number) => `${Math.round(bytes / 1024).toLocaleString("en-US")} KiB`,
  x: (n: number) => `${n.toFixed(2)}×`,
  pct: (n: number) => `${n >= 0 ? "+" : ""}${(n * 100).toFixed(1)}%`,
  n: (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits }),
};
