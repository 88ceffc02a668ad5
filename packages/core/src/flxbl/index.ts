export * from "./client.js";
// Named, not `export *`: errors.ts also holds the client's internal response helpers (errorFor, …).
export {
  type CallSite,
  type FieldError,
  FlxblAuthError,
  FlxblConflictError,
  FlxblError,
  FlxblForbiddenError,
  FlxblNetworkError,
  FlxblNotFoundError,
  FlxblRateLimitError,
  FlxblResponseError,
  FlxblScopeError,
  FlxblServerError,
  FlxblTimeoutError,
  FlxblValidationError,
  type RetryAdvice,
  retryAdvice,
} from "./errors.js";
export type { PacingSnapshot, PacingSource } from "./rate-controller.js";
export * from "./scopes.js";
export * from "./types.js";
