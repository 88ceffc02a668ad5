import { readFunctionEnv } from "@flxbl-lambda/core/lambda";
import { webhookHandler } from "@flxbl-lambda/core/webhooks";
import { applyStockUpdate, stockLockKey } from "../domain/inventory.js";
import { inventoryEvents } from "../events.js";
import { inventoryWebhook } from "../manifest.js";
import type { Product } from "../types.js";

/** `POST /webhooks/inventory`: Standard Webhooks `inventory.updated`, verified, validated and applied once each. */
export const handler = webhookHandler(
  { spec: inventoryWebhook, env: readFunctionEnv(process.env), events: inventoryEvents, lockKey: stockLockKey },
  async (_event, context) => {
    const { id, payload } = context.webhook;
    const outcome = await applyStockUpdate(context.flxbl.entity<Product>("Product"), context.lock, payload);
    context.logger.info(`inventory event ${outcome.status}`, { eventId: id, sku: payload.data.sku, ...outcome });
    return {
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ eventId: id, ...outcome }),
    };
  },
);
