/**
 * One CloudWatch EMF document, as Powertools Metrics writes it to stdout.
 *
 * @example
 * ```ts
 * const doc: EmfDocument = { _aws: { Timestamp: 0, CloudWatchMetrics: [] }, service: "payments-webhook" };
 * ```
 */
export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit: string }>;
    }>;
  };
  [key: string]: unknown;
}

/** What {@link captureMetrics} saw: the documents, and how many writes to stdout carried them. */
export interface CapturedMetrics {
  documents: EmfDocument[];
  writes: number;
}

/**
 * Runs `fn` and answers the EMF documents (lines with `_aws`) it wrote to stdout meanwhile, kept
 * from stdout; everything else it writes goes through. For tests of a handler's metrics.
 *
 * @example
 * ```ts
 * const { documents } = await captureMetrics(() => handler(event, lambdaContext({ functionName: "job", timeoutSeconds: 60 })));
 * const runs = documents.find((d) => "JobRuns" in d)?.JobRuns; // 1
 * ```
 */
export async function captureMetrics(fn: () => Promise<unknown>): Promise<CapturedMetrics> {
  const lines: string[] = [];
  let writes = 0;
  const original = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    if (!text.includes('"_aws"'))
      return (original as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    writes++;
    lines.push(...text.split("\n"));
    const done = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    if (done) queueMicrotask(done);
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = original;
  }
  const documents = lines
    .filter((l) => l.startsWith("{") && l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as EmfDocument)
    .filter((d) => d._aws !== undefined);
  return { documents, writes };
}

/**
 * A document's namespace, dimension names (sorted), metrics (name → value or values) and units.
 *
 * @example
 * ```ts
 * const { documents } = await captureMetrics(async () => undefined);
 * const read = documents.map(emfMetrics); // [{ namespace, dimensions: ["service", "stage"], metrics, units }, ...]
 * ```
 */
export function emfMetrics(doc: EmfDocument) {
  const [directive] = doc._aws.CloudWatchMetrics;
  if (!directive) throw new Error("EMF document without CloudWatchMetrics");
  const metrics = Object.fromEntries(directive.Metrics.map((m) => [m.Name, doc[m.Name]]));
  const units = Object.fromEntries(directive.Metrics.map((m) => [m.Name, m.Unit]));
  return { namespace: directive.Namespace, dimensions: directive.Dimensions.flat().sort(), metrics, units };
}
