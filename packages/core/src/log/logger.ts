import { Logger } from "@aws-lambda-powertools/logger";
import { redactingReplacer } from "./redact.js";

/**
 * A Powertools Logger whose every line passes through {@link redactingReplacer}, so no FLXBL
 * key, signing secret, signature or Authorization header reaches the log however it got into
 * an object or message.
 *
 * @example
 * ```ts
 * const logger = createLogger({ serviceName: "payments-webhook" });
 * logger.info("order paid", { orderId });
 * ```
 */
export function createLogger(
  options: { serviceName?: string; logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR" | "SILENT" } = {},
): Logger {
  return new Logger({ ...options, jsonReplacerFn: redactingReplacer });
}
