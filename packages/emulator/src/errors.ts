import { STATUS_CODES } from "node:http";
import type { FieldError } from "./schema.js";

/** An error answered to the client as `{statusCode, message, error, ...extra}` (NestJS's shape). */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly extra: { errors?: FieldError[] } = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const notFound = (message: string) => new ApiError(404, message);
export const badRequest = (message: string) => new ApiError(400, message);
export const conflict = (message: string) => new ApiError(409, message);

/** The JSON body for an error, with `message` as a string or string[] per the option. */
export function errorBody(err: ApiError, messageShape: "string" | "array"): Record<string, unknown> {
  return {
    statusCode: err.status,
    message: messageShape === "array" ? [err.message] : err.message,
    error: STATUS_CODES[err.status] ?? "Error",
    ...err.extra,
  };
}
