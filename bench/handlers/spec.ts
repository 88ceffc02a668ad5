import { paymentsWebhook } from "@flxbl-lambda/functions";

/** The manifest-style entry of `get-order.ts` (kept apart: importing the handler reads its environment). */
export const getOrderSpec = { name: "bench-get-order", scopes: ["entity:Order:read"] } as const;

/** The entry of `payments-lock-apart.ts`: the payments webhook's, under a name of its own (its own records and secret). */
export const paymentsLockApartSpec = { ...paymentsWebhook, name: "bench-payments-lock-apart" } as const;
