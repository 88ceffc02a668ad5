/**
 * The payments webhook as it was before its order's lock rode along with the idempotency record
 * (figure 1's baseline for that change): the same handler without `lockKey`, so Powertools writes
 * the record with calls of its own (put, complete) and `context.lock.run` takes and lets go of the
 * order's lock with two more. Kept until the new design's figures are in.
 */
import { readFunctionEnv, webhookHandler } from "@flxbl-lambda/core";
import type { Order } from "@flxbl-lambda/functions";
import { applyPaymentEvent } from "../../packages/functions/src/domain/payments.js";
import { paymentEvents } from "../../packages/functions/src/events.js";
import { paymentsLockApartSpec } from "./spec.js";

export const handler = webhookHandler(
  { spec: paymentsLockApartSpec, env: readFunctionEnv(process.env), events: paymentEvents },
  async (_event, context) => {
    const { payload } = context.webhook;
    const outcome = await applyPaymentEvent(context.flxbl.entity<Order>("Order"), context.lock, payload);
    return {
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ eventId: payload.id, ...outcome }),
    };
  },
);
