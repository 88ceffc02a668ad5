import { ClientError } from "@flxbl-lambda/core/lambda";
import * as z from "zod/mini";

/**
 * The webhook payloads this app accepts: a public contract, documented in this package's README.
 * One schema per event type; each is checked after the signature.
 */

const metadataWithOrder = z.looseObject({ orderId: z.string().check(z.minLength(1, "metadata.orderId is required")) });
const id = () => z.string().check(z.minLength(1));
const count = () => z.int().check(z.nonnegative());
const currency = () => z.string().check(z.minLength(3));

/** A Stripe PaymentIntent, as in `payment_intent.succeeded` / `payment_intent.payment_failed`. */
export const paymentIntentSchema = z.looseObject({
  id: id(),
  object: z.literal("payment_intent"),
  amount: count(),
  currency: currency(),
  metadata: metadataWithOrder,
  last_payment_error: z.nullish(z.looseObject({ message: z.optional(z.string()), code: z.optional(z.string()) })),
});

/** A Stripe Charge, as in `charge.refunded`. */
export const chargeSchema = z.looseObject({
  id: id(),
  object: z.literal("charge"),
  amount: count(),
  amount_refunded: count(),
  currency: currency(),
  refunded: z.boolean(),
  payment_intent: z.nullish(z.string()),
  metadata: metadataWithOrder,
});

/** A Stripe event object: `{id, object:"event", type, created, data:{object}}`. */
export const stripeEventSchema = z.looseObject({
  id: id(),
  object: z.literal("event"),
  type: id(),
  created: z.int().check(z.positive()),
  /** `false` for Stripe test-mode events (ignored in the `prod` stage). */
  livemode: z.optional(z.boolean()),
  data: z.looseObject({ object: z.record(z.string(), z.unknown()) }),
});

/** A Stripe event of one `type` whose `data.object` is checked by `object`. */
const stripeEventOf = <Type extends string, Object extends z.ZodMiniType>(type: Type, object: Object) =>
  z.looseObject({
    id: id(),
    object: z.literal("event"),
    type: z.literal(type),
    created: z.int().check(z.positive()),
    livemode: z.optional(z.boolean()),
    data: z.looseObject({ object }),
  });

/**
 * The Stripe events the payments webhook acts on, each with its payload's schema: the webhook
 * acknowledges every other type as ignored, and answers 400 to a listed one that does not fit.
 */
export const paymentEvents = {
  "payment_intent.succeeded": stripeEventOf("payment_intent.succeeded", paymentIntentSchema),
  "payment_intent.payment_failed": stripeEventOf("payment_intent.payment_failed", paymentIntentSchema),
  "charge.refunded": stripeEventOf("charge.refunded", chargeSchema),
};

/** `inventory.updated`: the absolute stock of a SKU at the sender's version `version`. */
export const inventoryUpdatedSchema = z.object({
  type: z.literal("inventory.updated"),
  timestamp: z.iso.datetime({ offset: true }),
  data: z.object({
    sku: z.string().check(z.minLength(1), z.maxLength(255)),
    quantity: count(),
    version: count(),
  }),
});

export type StripeEvent = z.infer<typeof stripeEventSchema>;
/** One of the payment events the webhook handles, validated. */
export type PaymentEvent = {
  [K in keyof typeof paymentEvents]: z.infer<(typeof paymentEvents)[K]>;
}[keyof typeof paymentEvents];
export type PaymentIntent = z.infer<typeof paymentIntentSchema>;
export type Charge = z.infer<typeof chargeSchema>;
export type InventoryUpdated = z.infer<typeof inventoryUpdatedSchema>;

/** The inventory webhook's event types. */
export const inventoryEvents = { "inventory.updated": inventoryUpdatedSchema };

/** Parses with `schema` or throws a 400 {@link ClientError} listing each problem by path. */
export function parsePayload<T>(schema: z.ZodMiniType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new ClientError(400, `${what} is invalid`, { problems });
}
