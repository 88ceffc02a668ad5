/**
 * A CloudWatch EMF document a function printed (Powertools Metrics), as one short line for the
 * terminal: `metrics WebhookReceived 1 · WebhookApplied 1 · FlxblLatency 3.1–4.2 ms (2)`, with any
 * dimension beyond `service` and `stage` in brackets and counts of zero left out. Undefined for
 * any other line.
 *
 * @example
 * ```ts
 * const line = '{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"app","Dimensions":[["service"]],"Metrics":[{"Name":"JobRuns","Unit":"Count"}]}]},"service":"job","JobRuns":1}';
 * compactMetricLine(line); // "metrics JobRuns 1"
 * ```
 */
export function compactMetricLine(line: string): string | undefined {
  if (!line.startsWith("{") || !line.includes('"_aws"')) return undefined;
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const directive = (doc._aws as { CloudWatchMetrics?: unknown[] } | undefined)?.CloudWatchMetrics?.[0] as
    | { Dimensions?: string[][]; Metrics?: Array<{ Name: string; Unit?: string }> }
    | undefined;
  if (!directive?.Metrics) return undefined;
  const extra = (directive.Dimensions ?? [])
    .flat()
    .filter((d) => d !== "service" && d !== "stage")
    .map((d) => `${d}=${String(doc[d])}`);
  // Counts of zero say nothing a reader looks for (no 429s, no errors): left out.
  const parts = directive.Metrics.filter(({ Name, Unit }) => !((Unit ?? "Count") === "Count" && doc[Name] === 0)).map(
    ({ Name, Unit }) => `${Name} ${shown(doc[Name], Unit)}`,
  );
  return `metrics${extra.length > 0 ? ` [${extra.join(" ")}]` : ""} ${parts.join(" · ")}`;
}

const units: Record<string, string> = { Milliseconds: " ms", Seconds: " s", Count: "" };

function shown(value: unknown, unit: string | undefined): string {
  const suffix = units[unit ?? "Count"] ?? ` ${unit}`;
  const round = (n: number) => String(Math.round(n * 10) / 10);
  if (Array.isArray(value)) {
    const numbers = value.filter((v): v is number => typeof v === "number");
    if (numbers.length === 0) return "-";
    const low = Math.min(...numbers);
    const high = Math.max(...numbers);
    return `${low === high ? round(low) : `${round(low)}–${round(high)}`}${suffix} (${numbers.length})`;
  }
  return typeof value === "number" ? `${round(value)}${suffix}` : String(value);
}
