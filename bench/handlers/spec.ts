/** The manifest-style entry of `get-order.ts` (kept apart: importing the handler reads its environment). */
export const getOrderSpec = { name: "bench-get-order", scopes: ["entity:Order:read"] } as const;
