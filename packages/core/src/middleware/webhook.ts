import type { Logger } from "@aws-lambda-powertools/logger";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import type { SecretLoader } from "../keys/secret-loader.js";
import { WebhookSignatureError } from "../webhooks/errors.js";
import { type SignatureSchemeName, signatureScheme, type WebhookDelivery } from "../webhooks/scheme.js";
import { signingSecretProblem, WebhookNotConfiguredError } from "../webhooks/signing-secrets.js";
import { ClientError } from "./errors.js";

/**
 * A verified webhook delivery, on `context.webhook` after {@link webhook} ran.
 *
 * @example
 * ```ts
 * const { id, type, payload }: VerifiedWebhook = context.webhook;
 * if (type === "payment_intent.succeeded") logger.info("payment received", { id, payload });
 * ```
 */
export interface VerifiedWebhook {
  /** The sender's event id, where its scheme says (Stripe's `id`, `webhook-id`, `X-GitHub-Delivery`): the idempotency key. */
  id: string;
  /** The event type (`payment_intent.succeeded`, `inventory.updated`). */
  type: string;
  /** The parsed JSON body; validate it per type before use. */
  payload: Record<string, unknown>;
}

/**
 * The Lambda context of a webhook handler.
 *
 * @example
 * ```ts
 * import type { APIGatewayProxyEventV2 } from "aws-lambda";
 *
 * async function apply(_event: APIGatewayProxyEventV2, context: WebhookContext) {
 *   return { statusCode: 200, body: JSON.stringify({ received: context.webhook.type }) };
 * }
 * ```
 */
export interface WebhookContext extends Context {
  webhook: VerifiedWebhook;
}

/**
 * Options of {@link webhook}.
 *
 * @example
 * ```ts
 * const options: WebhookOptions = { scheme: "standard-webhooks", secrets: loader, logger, toleranceSeconds: 60 };
 * handler.use(webhook(options));
 * ```
 */
export interface WebhookOptions {
  /** The registered signature scheme the sender signs with (a manifest entry's `signature`). */
  scheme: SignatureSchemeName;
  /** The function's secret; its `signingSecrets` verify deliveries. */
  secrets: SecretLoader;
  logger: Pick<Logger, "warn" | "error">;
  /** Largest body accepted (decoded bytes); larger ones get 413. @default 262144 (256 KiB) */
  maxBodyBytes?: number;
  /** @default 300 */
  toleranceSeconds?: number;
  /** Clock in epoch ms. @default Date.now */
  now?: () => number;
}

/** A signature that matches no cached secret re-reads the secret at most this often. */
const secretRecheckMs = 60_000;

/**
 * middy middleware for signed webhooks, on the raw bytes and before any parsing:
 * 1. decodes a base64 body, refuses one over `maxBodyBytes` (413);
 * 2. verifies the signature with the function's signing secrets (401 with the failed check);
 *    with no usable secret (none configured, or all shorter than 24 bytes of key), answers 503
 *    with the generic body and logs why, so an unauthenticated caller learns nothing of the setup;
 * 3. parses JSON (400) and asks the scheme for the event id and type (400 when missing);
 * then sets `context.webhook`, which the idempotency middleware keys on. The decoded body
 * replaces `event.body`, so nothing later reads other bytes than those verified. What the
 * scheme checks, and where it finds the id and type, is the scheme's business: this middleware
 * never looks at its name.
 *
 * @example
 * ```ts
 * handler.use(webhook({ scheme: "stripe", secrets: loader, logger }));
 * ```
 */
export function webhook(options: WebhookOptions): MiddlewareObj<APIGatewayProxyEventV2, unknown, Error, Context> {
  const maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;

  const scheme = signatureScheme(options.scheme);
  /** Throws WebhookSignatureError unless the scheme says, with `true`, that the delivery is genuine. */
  const verify = (delivery: WebhookDelivery, secrets: string[]) => {
    const genuine = scheme.verify(delivery, {
      secrets,
      toleranceSeconds: options.toleranceSeconds ?? 300,
      now: options.now ?? Date.now,
    });
    if (genuine !== true)
      throw new WebhookSignatureError(
        "no matching signature",
        `No signing secret matches the ${scheme.name} signature; check the sender's secret, and that the body reached us unmodified`,
      );
  };

  /** Secrets too short to trust are dropped (and reported once per loaded set, never quoted). */
  const reported = new WeakSet<readonly string[]>();
  const usable = (secrets: readonly string[]): string[] => {
    const refused = secrets.flatMap((secret, index) => {
      const problem = signingSecretProblem(options.scheme, secret);
      return problem ? [{ index, problem }] : [];
    });
    if (refused.length > 0 && !reported.has(secrets)) {
      reported.add(secrets);
      options.logger.error("signing secrets refused", { refused, fix: "replace them with longer secrets" });
    }
    return secrets.filter((secret) => signingSecretProblem(options.scheme, secret) === undefined);
  };
  /** No usable secret: 503 for the caller, the reason for the log. */
  const notConfigured = () => {
    options.logger.error("webhook has no usable signing secret; put the sender's secret in signingSecrets", {
      secretId: options.secrets.secretId,
    });
    return new WebhookNotConfiguredError(`no usable signing secret in ${options.secrets.secretId}`);
  };
  /** The usable signing secrets, looked up again (rarely) when there are none. */
  const signingSecrets = async (): Promise<string[]> => {
    let secrets = usable((await options.secrets.get()).signingSecrets);
    if (secrets.length === 0)
      secrets = usable((await options.secrets.refreshIfOlderThan(secretRecheckMs)).signingSecrets);
    if (secrets.length === 0) throw notConfigured();
    return secrets;
  };
  const webhookMiddlewareBefore = async (request: { event: APIGatewayProxyEventV2; context: Context }) => {
    const { event } = request;
    const raw = event.body ?? "";
    const body = event.isBase64Encoded ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8");
    if (body.length > maxBodyBytes) throw new ClientError(413, `body is larger than ${maxBodyBytes} bytes`);
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;

    const delivery: WebhookDelivery = { body, headers };
    try {
      verify(delivery, await signingSecrets());
    } catch (err) {
      if (!(err instanceof WebhookSignatureError)) throw err;
      if (err.reason !== "no matching signature") {
        options.logger.warn("webhook signature check failed", { check: err.reason, hint: err.hint });
        throw err;
      }
      // The sender may have rolled its secret since we cached ours: look again, rarely.
      const again = usable((await options.secrets.refreshIfOlderThan(secretRecheckMs)).signingSecrets);
      if (again.length === 0) throw notConfigured();
      try {
        verify(delivery, again);
      } catch (retried) {
        if (retried instanceof WebhookSignatureError)
          options.logger.warn("webhook signature check failed", { check: retried.reason, hint: retried.hint });
        throw retried;
      }
    }

    const text = body.toString("utf8");
    event.body = text;
    event.isBase64Encoded = false;
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch (err) {
      throw new ClientError(400, `body is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof payload !== "object" || payload === null || Array.isArray(payload))
      throw new ClientError(400, "body must be a JSON object");
    const record = payload as Record<string, unknown>;
    const id = scheme.eventId(delivery, record);
    if (!id) throw new ClientError(400, `event id is missing (where ${scheme.name} deliveries carry it)`);
    const type = scheme.eventType(delivery, record);
    if (!type) throw new ClientError(400, `event type is missing (where ${scheme.name} deliveries carry it)`);
    (request.context as WebhookContext).webhook = { id, type, payload: record };
  };

  return { name: "webhook", before: webhookMiddlewareBefore };
}
