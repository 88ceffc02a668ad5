/**
 * Reading what a function prints: Powertools writes one JSON object a line, with Lambda
 * boilerplate a local reader does not need on every line.
 */

/** The fields every Powertools line carries that say nothing about this line. */
const boilerplate = new Set([
  "timestamp",
  "service",
  "cold_start",
  "function_arn",
  "function_memory_size",
  "function_name",
  "sampling_rate",
  "xray_trace_id",
]);

/** A Powertools line taken apart; undefined for any other line. */
export interface PowertoolsLine {
  level: string;
  message: string;
  requestId?: string;
  timestamp?: string;
  /** The line's own fields, boilerplate left out. */
  fields: Record<string, unknown>;
}

/** A Powertools JSON line taken apart, or undefined when the line is not one. */
export function parsePowertoolsLine(line: string): PowertoolsLine | undefined {
  if (!line.startsWith("{")) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const { level, message, function_request_id: id, timestamp, ...fields } = parsed as Record<string, unknown>;
  for (const key of boilerplate) delete fields[key];
  return {
    level: String(level),
    message: String(message ?? ""),
    ...(typeof id === "string" ? { requestId: id } : {}),
    ...(typeof timestamp === "string" ? { timestamp } : {}),
    fields,
  };
}

/** A Powertools JSON line as `LEVEL message {the rest}`, request id shortened; other lines as they are. */
export function readable(line: string): string {
  const parsed = parsePowertoolsLine(line);
  if (!parsed) return line;
  const extra = Object.keys(parsed.fields).length > 0 ? ` ${JSON.stringify(parsed.fields)}` : "";
  return `${parsed.level.padEnd(5)} ${parsed.requestId ? `${parsed.requestId.slice(0, 8)} ` : ""}${parsed.message}${extra}`;
}
