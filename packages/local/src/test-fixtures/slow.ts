import { setTimeout as sleep } from "node:timers/promises";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";

/** A test function that takes `?ms=` milliseconds (default 10 s) to answer, to run past its timeout. */
export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  await sleep(Number(event.queryStringParameters?.ms ?? 10_000));
  return { statusCode: 200, body: `done, pid ${process.pid}` };
};
