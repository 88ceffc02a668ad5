import { readFunctionEnv } from "@flxbl-lambda/core/lambda";
import { webhookHandler } from "@flxbl-lambda/core/webhooks";
import * as z from "zod/mini";
import { shopifyWebhook } from "./more-webhooks.js";

const events = {
  "orders/create": z.looseObject({ id: z.number(), total_price: z.string(), currency: z.string() }),
};

/** `POST /webhooks/shop-orders`: Shopify's orders/create; any other topic is acknowledged as ignored. */
export const handler = webhookHandler(
  { spec: shopifyWebhook, env: readFunctionEnv(process.env), events },
  async (_event, context) => {
    const { id, payload } = context.webhook;
    const orders = await context.flxbl.entity("Order").query({ limit: 1 });
    return {
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        eventId: id,
        order: payload.id,
        total: `${payload.total_price} ${payload.currency}`,
        orders: orders.length,
      }),
    };
  },
);
