import { readFunctionEnv } from "@flxbl-lambda/core/lambda";
import { webhookHandler } from "@flxbl-lambda/core/webhooks";
import * as z from "zod/mini";
import { githubWebhook } from "./more-webhooks.js";

const events = {
  push: z.looseObject({ ref: z.string(), repository: z.looseObject({ full_name: z.string() }) }),
  ping: z.looseObject({ zen: z.string() }),
};

/** `POST /webhooks/repo-events`: GitHub's push and ping events; any other event is acknowledged as ignored. */
export const handler = webhookHandler(
  { spec: githubWebhook, env: readFunctionEnv(process.env), events },
  async (_event, context) => {
    const { id, type, payload } = context.webhook;
    const detail = type === "push" ? `${payload.repository.full_name} ${payload.ref}` : payload.zen;
    // A FLXBL call with the function's own key, so a replayed delivery shows as one call too few.
    const products = await context.flxbl.entity("Product").query({ limit: 1 });
    return {
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ eventId: id, type, detail, products: products.length }),
    };
  },
);
