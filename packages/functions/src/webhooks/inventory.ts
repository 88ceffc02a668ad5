import { KeyedLock, readFunctionEnv, stateTableName, webhookHandler } from "@flxbl-lambda/core";
import { applyStockUpdate } from "../domain/inventory.js";
import { inventoryUpdatedSchema, parsePayload } from "../events.js";
import { inventoryWebhook } from "../manifest.js";
import type { Product } from "../types.js";

const env = readFunctionEnv(process.env);
const lock = new KeyedLock({ tableName: stateTableName(env), namespaces: inventoryWebhook.locks });

/** `POST /webhooks/inventory`: Standard Webhooks `inventory.updated`, verified and applied once each. */
export const handler = webhookHandler({ spec: inventoryWebhook, env }, async (_event, context) => {
  const { id, type } = context.webhook;
  if (type !== "inventory.updated") {
    context.logger.warn("inventory event ignored", { eventId: id, type });
    return json({ eventId: id, status: "ignored", reason: `event type ${type} is not handled` });
  }
  const update = parsePayload(inventoryUpdatedSchema, context.webhook.payload, "inventory.updated event");
  const outcome = await applyStockUpdate(context.flxbl.entity<Product>("Product"), lock, update);
  context.logger.info(`inventory event ${outcome.status}`, { eventId: id, sku: update.data.sku, ...outcome });
  return json({ eventId: id, ...outcome });
});

function json(body: Record<string, unknown>) {
  return { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}
