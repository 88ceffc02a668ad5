import { Tracer } from "@aws-lambda-powertools/tracer";

let tracer: Tracer | undefined;

/**
 * The container's Powertools Tracer (X-Ray), made on first use: active in Lambda with active
 * tracing, a no-op elsewhere (tests, `npm start`). FLXBL calls get their own subsegments
 * ({@link flxblSubsegment}), so the SDK's automatic HTTP capture is off: one subsegment per call,
 * annotated, rather than one per attempt with a bare URL.
 *
 * @example
 * ```ts
 * const tracer = processTracer();
 * if (tracer.isTracingEnabled()) tracer.putAnnotation("orderId", "ord_1");
 * ```
 */
export function processTracer(): Tracer {
  tracer ??= new Tracer({ captureHTTPsRequests: false });
  return tracer;
}

/**
 * An AWS SDK v3 client whose every call is an X-Ray subsegment (service, operation, status), when
 * tracing is on; the client itself otherwise.
 *
 * @example
 * ```ts
 * import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
 *
 * const secrets = traceAwsClient(new SecretsManagerClient({ ...awsClientDefaults }));
 * ```
 */
export function traceAwsClient<T>(client: T): T {
  const t = processTracer();
  return t.isTracingEnabled() ? t.captureAWSv3Client(client) : client;
}

/** What an open FLXBL subsegment is closed with. */
export interface SubsegmentEnd {
  status: number | undefined;
  attempts: number;
  throttled: number;
  error?: unknown;
}

/**
 * Opens a subsegment for one FLXBL call under the current (sub)segment, annotated with the entity,
 * the operation and the method (never a key, a URL's query or a body); the returned function
 * closes it with the status, attempts and 429s. Undefined when tracing is off.
 *
 * The subsegment is not made current (no `setSegment`): calls a job makes side by side would
 * otherwise nest under each other.
 *
 * @example
 * ```ts
 * const close = flxblSubsegment({ name: "Order", op: "read" }, "GET");
 * close?.({ status: 200, attempts: 1, throttled: 0 });
 * ```
 */
export function flxblSubsegment(
  need: { name: string; op: string },
  method: string,
): ((end: SubsegmentEnd) => void) | undefined {
  const t = processTracer();
  if (!t.isTracingEnabled()) return undefined;
  const parent = t.getSegment();
  if (!parent) return undefined;
  const sub = parent.addNewSubsegment(`FLXBL ${need.name} ${need.op}`);
  sub.namespace = "remote";
  sub.addAnnotation("flxbl_entity", need.name);
  sub.addAnnotation("flxbl_operation", need.op);
  sub.addAnnotation("flxbl_method", method);
  return (end) => {
    if (end.status !== undefined) sub.addAnnotation("flxbl_status", end.status);
    sub.addAnnotation("flxbl_attempts", end.attempts);
    if (end.throttled > 0) {
      sub.addAnnotation("flxbl_throttled", end.throttled);
      sub.addThrottleFlag();
    }
    if (end.error !== undefined) sub.addError(end.error as Error, true);
    else if (end.status !== undefined && end.status >= 400) sub.addErrorFlag();
    sub.close();
  };
}
