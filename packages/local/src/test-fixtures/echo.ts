import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";

/**
 * A test function that answers with what it was given: the event, its request id, the time it
 * has left and the environment variables the runtime tests look for. Throws when asked to
 * (`x-echo-fail` header), to show how the gateway answers a failed invocation.
 */
export const handler = async (
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> => {
  if (event.headers["x-echo-fail"]) throw new Error(`echo failed on purpose: ${event.headers["x-echo-fail"]}`);
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      event,
      requestId: context.awsRequestId,
      remainingMs: context.getRemainingTimeInMillis(),
      env: { GREETING: process.env.GREETING ?? null, UNNAMED: process.env.UNNAMED ?? null },
    }),
  };
};
