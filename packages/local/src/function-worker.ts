/**
 * The process one function runs in under `npm start`, as a Lambda container would: its own
 * environment (given by the parent), its own module graph and caches. The parent sends
 * `invoke` messages over IPC and gets `result` or `error` back.
 */
import { lambdaContext } from "@flxbl-lambda/core";
import { watchFlxblCalls } from "./flxbl-calls.js";

interface InvokeMessage {
  type: "invoke";
  id: number;
  requestId: string;
  event: unknown;
}

const handlerPath = process.env.LOCAL_HANDLER_FILE;
const exportName = process.env.LOCAL_HANDLER_EXPORT ?? "handler";
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? "function";
const timeoutSeconds = Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT ?? "30");
const memoryMb = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? "256");

const send = (message: unknown) => process.send?.(message);

/** The invocations running now, by request id: a FLXBL call belongs to one when it is the only one. */
const running = new Set<string>();
if (process.env.LOCAL_RECORD_FLXBL_CALLS === "1" && process.env.FLXBL_URL) {
  watchFlxblCalls(process.env.FLXBL_URL, (call) => {
    const [only] = running;
    send({ type: "flxbl-call", requestId: running.size === 1 ? only : undefined, call });
  });
}

try {
  if (!handlerPath) throw new Error("LOCAL_HANDLER_FILE is not set");
  const module = (await import(handlerPath)) as Record<string, unknown>;
  const handler = module[exportName];
  if (typeof handler !== "function") throw new Error(`${handlerPath} exports no function ${exportName}`);
  process.on("message", (message: InvokeMessage) => {
    if (message?.type !== "invoke") return;
    const context = { ...lambdaContext({ functionName, timeoutSeconds, memoryMb }), awsRequestId: message.requestId };
    running.add(message.requestId);
    Promise.resolve()
      .then(() => (handler as (e: unknown, c: unknown) => unknown)(message.event, context))
      .then(
        (result) => send({ type: "result", id: message.id, result }),
        (err: unknown) =>
          send({
            type: "error",
            id: message.id,
            error: { name: (err as Error)?.name ?? "Error", message: (err as Error)?.message ?? String(err) },
          }),
      )
      .finally(() => running.delete(message.requestId));
  });
  send({ type: "ready" });
} catch (err) {
  send({ type: "init-error", error: { name: (err as Error).name, message: (err as Error).message } });
  process.exitCode = 1;
}
