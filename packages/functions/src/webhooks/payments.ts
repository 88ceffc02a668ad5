import { KeyedLock, readFunctionEnv, stateTableName, webhookHandler } from "@flxbl-lambda/core";
import { applyPaymentEvent } from "../domain/payments.js";
import { parsePayload, stripeEventSchema } from "../events.js";
import { isProductionStage, paymentsWebhook } from "../manifest.js";
import type { Order } from "../types.js";

const env = readFunctionEnv(process.env);
const lock = new KeyedLock({ tableName: stateTableName(env), namespaces: paymentsWebhook.locks });
const settings = { liveOnly: isProductionStage(env.APP_STAGE) };

/** `POST /webhooks/payments`: Stripe events, verified and applied once each. */
export const handler = webhookHandler({ spec: paymentsWebhook, env }, async (_event, context) => {
  const stripeEvent = parsePayload(stripeEventSchema, context.webhook.payload, "Stripe event");
  const outcome = await applyPaymentEvent(context.flxbl.entity<Order>("Order"), lock, stripeEvent, settings);
  const log = outcome.status === "ignored" ? context.logger.warn : context.logger.info;
  log.call(context.logger, `payment event ${outcome.status}`, {
    eventId: stripeEvent.id,
    type: stripeEvent.type,
    ...outcome,
  });
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ eventId: stripeEvent.id, ...outcome }),
  };
});
