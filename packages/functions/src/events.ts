import { ClientError } from "@flxbl-lambda/core";
import { z } from "zod";

/**
 * The webhook payloads this app accepts: a public contract, documented in this package's README.
 * One schema per event type; each is checked after the signature.
 */

const metadataWithOrder = z.object({ orderId: z.string().min(1, "metadata.orderId is required") }).passthrough();

/** A Stripe PaymentIntent, as in `payment_intent.succeeded` / `payment_intent.payment_failed`. */
export const paymentIntentSchema = z
  .object({
    id: z.string().min(1),
    object: z.literal("payment_intent"),
    amount: z.number().int().nonnegative(),
    currency: z.string().min(3),
    metadata: metadataWithOrder,
    last_payment_error: z
      .object({ message: z.string().optional(), code: z.string().optional() })
      .passthrough()
      .nullish(),
  })
  .passthrough();

/** A Stripe Charge, as in `charge.refunded`. */
export const chargeSchema = z
  .object({
    id: z.string().min(1),
    object: z.literal("charge"),
    amount: z.number().int().nonnegative(),
    amount_refunded: z.number().int().nonnegative(),
    currency: z.string().min(3),
    refunded: z.boolean(),
    payment_intent: z.string().nullish(),
    metadata: metadataWithOrder,
  })
  .passthrough();

/** A Stripe event object: `{id, object:"event", type, created, data:{object}}`. */
export const stripeEventSchema = z
  .object({
    id: z.string().min(1),
    object: z.literal("event"),
    type: z.string().min(1),
    created: z.number().int().positive(),
    data: z.object({ object: z.record(z.string(), z.unknown()) }).passthrough(),
  })
  .passthrough();

/** `inventory.updated`: the absolute stock of a SKU at the sender's version `version`. */
export const inventoryUpdatedSchema = z.object({
  type: z.literal("inventory.updated"),
  timestamp: z.iso.datetime({ offset: true }),
  data: z.object({
    sku: z.string().min(1).max(255),
    quantity: z.number().int().nonnegative(),
    version: z.number().int().nonnegative(),
  }),
});

export type StripeEvent = z.infer<typeof stripeEventSchema>;
export type PaymentIntent = z.infer<typeof paymentIntentSchema>;
export type Charge = z.infer<typeof chargeSchema>;
export type InventoryUpdated = z.infer<typeof inventoryUpdatedSchema>;

/** Parses with `schema` or throws a 400 {@link ClientError} listing each problem by path. */
export function parsePayload<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new ClientError(400, `${what} is invalid`, { problems });
}
