import type { Tracer } from "@aws-lambda-powertools/tracer";
import type { MiddlewareObj, Request } from "@middy/core";
import { sanitizeError } from "../log/sanitize-error.js";

/**
 * Whether Powertools Tracer would be on here, by its own rule: in Lambda (`AWS_EXECUTION_ENV`), not
 * under SAM's or Amplify's local mocks, not turned off with `POWERTOOLS_TRACE_ENABLED=false`.
 * Asked before the tracer is loaded: importing the X-Ray SDK alone installs an `async_hooks` hook
 * that every promise in the process then pays for, so tests, `npm start` and the bench never load it.
 *
 * @example
 * ```ts
 * tracingWanted({ AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x" }); // true
 * tracingWanted({}); // false: not in Lambda
 * ```
 */
export function tracingWanted(env: Record<string, string | undefined> = process.env): boolean {
  const execution = env.AWS_EXECUTION_ENV ?? "";
  if (execution === "" || execution === "AWS_Lambda_amplify-mock") return false;
  if ((env.AWS_SAM_LOCAL ?? "") !== "") return false;
  return (env.POWERTOOLS_TRACE_ENABLED ?? "").trim().toLowerCase() !== "false";
}

let loading: Promise<Tracer | undefined> | undefined;
let tracer: Tracer | undefined;
/** Powertools' `captureLambdaHandler` on the loaded tracer. */
let capture: MiddlewareObj | undefined;

/**
 * The container's Powertools Tracer (X-Ray), loaded once, when {@link tracingWanted}, for the
 * function `serviceName` (the first caller's; default `POWERTOOLS_SERVICE_NAME`); undefined otherwise. FLXBL calls get their own subsegments ({@link flxblSubsegment}), so the SDK's
 * automatic HTTP capture is off: one subsegment per call, annotated, not one per attempt.
 *
 * @example
 * ```ts
 * const tracer = await loadTracer();
 * tracer?.putAnnotation("orderId", "ord_1");
 * ```
 */
export function loadTracer(serviceName = process.env.POWERTOOLS_SERVICE_NAME): Promise<Tracer | undefined> {
  loading ??= tracingWanted()
    ? Promise.all([import("@aws-lambda-powertools/tracer"), import("@aws-lambda-powertools/tracer/middleware")]).then(
        ([{ Tracer }, { captureLambdaHandler }]) => {
          const loaded = new Tracer({ captureHTTPsRequests: false, serviceName });
          capture = captureLambdaHandler(loaded, { captureResponse: false }) as MiddlewareObj;
          tracer = loaded;
          return loaded;
        },
        // A tracer that cannot load leaves the function untraced, not failed.
        () => undefined,
      )
    : Promise.resolve(undefined);
  return loading;
}

/**
 * An AWS SDK v3 client whose every call is an X-Ray subsegment (service, operation, status), once
 * the tracer is loaded (the client is captured in place); the client as it is when tracing is off.
 *
 * @example
 * ```ts
 * import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
 *
 * const secrets = traceAwsClient(new SecretsManagerClient({ ...awsClientDefaults }));
 * ```
 */
export function traceAwsClient<T>(client: T): T {
  if (!tracingWanted()) return client;
  if (tracer) return tracer.captureAWSv3Client(client);
  void loadTracer().then((t) => t?.captureAWSv3Client(client));
  return client;
}

/**
 * middy middleware: Powertools' `captureLambdaHandler` (the handler's subsegment, cold start and
 * service `serviceName` annotated; the response not captured, so no record reaches X-Ray), with the tracer
 * loaded on first use. Does nothing when tracing is off.
 *
 * @example
 * ```ts
 * import middy from "@middy/core";
 *
 * const handler = middy(async () => ({ statusCode: 200 })).use(traceHandler("payments-webhook"));
 * ```
 */
export function traceHandler(serviceName?: string): MiddlewareObj {
  // Loaded with the module (Lambda's init), so invocations find it ready and run Powertools'
  // middleware as it is written: synchronously, in the invocation's own X-Ray context.
  void loadTracer(serviceName);
  const traceHandlerMiddlewareBefore = (request: Request) => {
    if (capture) return capture.before?.(request);
    if (!tracingWanted()) return undefined;
    return loadTracer().then(() => capture?.before?.(request));
  };
  return {
    name: "traceHandler",
    before: traceHandlerMiddlewareBefore,
    after: (request) => capture?.after?.(request),
    onError: (request) => {
      if (request.error !== undefined && request.error !== null) return capture?.onError?.(request);
      // An error httpErrors answered (and took off the request): the handler's subsegment is
      // flagged by the answer's status and closed as a normal answer (Powertools would try to
      // record the missing error, and the X-Ray SDK would log that it could not).
      const status = (request.response as { statusCode?: number } | undefined)?.statusCode ?? 0;
      const segment = capture ? tracer?.getSegment() : undefined;
      if (status >= 500) segment?.addFaultFlag();
      else if (status >= 400) segment?.addErrorFlag();
      return capture?.after?.(request);
    },
  };
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
  if (!tracer?.isTracingEnabled()) return undefined;
  const parent = tracer.getSegment();
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
    // Redacted as an error leaving a handler is: a FLXBL error's message may quote its answer.
    if (end.error !== undefined) sub.addError(sanitizeError(end.error) as Error, true);
    else if (end.status !== undefined && end.status >= 400) sub.addErrorFlag();
    sub.close();
  };
}
