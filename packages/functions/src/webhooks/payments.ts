import { readFunctionEnv } from "@flxbl-lambda/core/lambda";
import { webhookHandler } from "@flxbl-lambda/core/webhooks";
import { applyPaymentEvent, paymentLockKey } from "../domain/payments.js";
import { paymentEvents } from "../events.js";
import { isProductionStage, paymentsWebhook } from "../manifest.js";
import type { Order } from "../types.js";

const env = readFunctionEnv(process.env);
const settings = { liveOnly: isProductionStage(env.APP_STAGE) };

/** `POST /webhooks/payments`: Stripe events, verified, validated per type and applied once each. */
export const handler = webhookHandler(
  // The order's lock is taken with the event's idempotency record: one DynamoDB call, not two.
  { spec: paymentsWebhook, env, events: paymentEvents, lockKey: paymentLockKey },
  async (_event, context) => {
    const { payload } = context.webhook;
    const outcome = await applyPaymentEvent(context.flxbl.entity<Order>("Order"), context.lock, payload, settings);
    const log = outcome.status === "ignored" ? context.logger.warn : context.logger.info;
    log.call(context.logger, `payment event ${outcome.status}`, {
      eventId: payload.id,
      type: payload.type,
      ...outcome,
    });
    return {
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ eventId: payload.id, ...outcome }),
    };
  },
);
