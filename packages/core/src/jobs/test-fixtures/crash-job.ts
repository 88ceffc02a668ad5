/**
 * A job invocation in a process of its own, for the runner's crash test: the parent kills it
 * (SIGKILL) mid-run, as Lambda kills a container, and checks the next invocation's takeover.
 * It reports each finished record over IPC, so the parent can pick its moment.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createFlxblClient } from "../../flxbl/client.js";
import { RunStore } from "../run-store.js";
import { runJob } from "../runner.js";
import { expireIfPending, type SweptOrder } from "./sweep.js";

const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const env = Object.fromEntries(
  ["DYNAMODB_URL", "FLXBL_URL", "FLXBL_KEY", "TAG", "TABLE", "LEASE_MS"].map((name) => [name, need(name)]),
) as Record<"DYNAMODB_URL" | "FLXBL_URL" | "FLXBL_KEY" | "TAG" | "TABLE" | "LEASE_MS", string>;
const ddb = DynamoDBDocumentClient.from(
  new DynamoDBClient({
    endpoint: env.DYNAMODB_URL,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  }),
);
const orders = createFlxblClient({ baseUrl: env.FLXBL_URL, apiKey: env.FLXBL_KEY }).entity<SweptOrder>("Order");

await runJob<SweptOrder>({
  name: env.TAG,
  store: new RunStore({ tableName: env.TABLE, job: env.TAG, client: ddb }),
  entity: orders,
  where: () => ({ currency: env.TAG, status: "pending" }),
  process: async (record) => {
    const outcome = await expireIfPending(orders, record);
    process.send?.({ done: record.id });
    // Slow enough that the parent's kill lands mid-page.
    await new Promise((resolve) => setTimeout(resolve, 20));
    return outcome;
  },
  deadline: Date.now() + 60_000,
  stopMarginMs: 1_000,
  leaseMs: Number(env.LEASE_MS),
  checkpointEveryMs: 100,
  pageSize: 20,
  concurrency: 4,
  logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
});
process.send?.({ finished: true });
