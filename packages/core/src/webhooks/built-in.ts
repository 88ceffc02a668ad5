/**
 * The built-in signature schemes: importing this module registers them. A scheme of your own is
 * one file that calls `registerSignatureScheme`, imported by the manifest that names it.
 */
export { githubScheme } from "./github.js";
export { shopifyScheme } from "./shopify.js";
export { standardWebhooksScheme } from "./standard-webhooks.js";
export { stripeScheme } from "./stripe.js";
