/** A per-field problem FLXBL reports with a 400/422. */
export interface FieldError {
  field: string;
  message: string;
  expectedType?: string;
  actualValue?: unknown;
}

/** Where a failed call went: method, path (no host, no query values that could hold data). */
export interface CallSite {
  method: string;
  path: string;
}

/**
 * Base of every error the FLXBL client throws. Carries the method, the path and, when FLXBL
 * answered, the status and FLXBL's own message. Never the API key.
 */
export class FlxblError extends Error {
  override name = "FlxblError";
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  readonly flxblMessage: string | undefined;

  constructor(
    site: CallSite,
    summary: string,
    options: { status?: number; flxblMessage?: string; cause?: unknown } = {},
  ) {
    const detail = options.flxblMessage ? `: ${options.flxblMessage}` : "";
    const status = options.status === undefined ? "" : ` ${options.status}`;
    super(`FLXBL ${site.method} ${site.path}${status} ${summary}${detail}`, { cause: options.cause });
    this.method = site.method;
    this.path = site.path;
    this.status = options.status;
    this.flxblMessage = options.flxblMessage;
  }

  /** Whether sending the same request again later may succeed (throttling, outages, timeouts). */
  get transient(): boolean {
    return false;
  }
}

/** 401: the key is missing, unknown, revoked or expired. */
export class FlxblAuthError extends FlxblError {
  override name = "FlxblAuthError";
}

/** 403: the key is valid but no scope covers the request. */
export class FlxblForbiddenError extends FlxblError {
  override name = "FlxblForbiddenError";
}

/** 404: the entity type, record or relationship does not exist. */
export class FlxblNotFoundError extends FlxblError {
  override name = "FlxblNotFoundError";
}

/** 400/422: FLXBL refused the request body or query; `fieldErrors` says which fields. */
export class FlxblValidationError extends FlxblError {
  override name = "FlxblValidationError";
  readonly fieldErrors: FieldError[];
  constructor(
    site: CallSite,
    summary: string,
    options: { status: number; flxblMessage?: string; fieldErrors?: FieldError[] },
  ) {
    super(site, summary, options);
    this.fieldErrors = options.fieldErrors ?? [];
  }
}

/** 409: the write conflicts with existing data. */
export class FlxblConflictError extends FlxblError {
  override name = "FlxblConflictError";
}

/** 429: throttled. `retryAfterMs` is FLXBL's `Retry-After` when it sent one. */
export class FlxblRateLimitError extends FlxblError {
  override name = "FlxblRateLimitError";
  readonly retryAfterMs: number | undefined;
  constructor(
    site: CallSite,
    summary: string,
    options: { status: number; flxblMessage?: string; retryAfterMs?: number },
  ) {
    super(site, summary, options);
    this.retryAfterMs = options.retryAfterMs;
  }
  override get transient(): boolean {
    return true;
  }
}

/** 5xx: FLXBL (or something in front of it) failed. `retryAfterMs` when a 503 said so. */
export class FlxblServerError extends FlxblError {
  override name = "FlxblServerError";
  readonly retryAfterMs: number | undefined;
  constructor(
    site: CallSite,
    summary: string,
    options: { status: number; flxblMessage?: string; retryAfterMs?: number },
  ) {
    super(site, summary, options);
    this.retryAfterMs = options.retryAfterMs;
  }
  override get transient(): boolean {
    return true;
  }
}

/** The request failed below HTTP (refused, reset, DNS). `outcomeUnknown` when it may have been applied. */
export class FlxblNetworkError extends FlxblError {
  override name = "FlxblNetworkError";
  readonly outcomeUnknown: boolean;
  constructor(site: CallSite, summary: string, options: { cause?: unknown; outcomeUnknown: boolean }) {
    super(site, summary, options);
    this.outcomeUnknown = options.outcomeUnknown;
  }
  override get transient(): boolean {
    return true;
  }
}

/**
 * The call ran out of time: the Lambda deadline (minus the safety margin) left no room for the
 * request or for the next retry, or the caller's abort signal fired. `cause` is the last
 * failure when there was one.
 */
export class FlxblTimeoutError extends FlxblError {
  override name = "FlxblTimeoutError";
  readonly retryAfterMs: number | undefined;
  /** Whether the request was sent and may have been applied (no answer came in time). */
  readonly outcomeUnknown: boolean;
  constructor(
    site: CallSite,
    summary: string,
    options: { cause?: unknown; retryAfterMs?: number; outcomeUnknown?: boolean } = {},
  ) {
    super(site, summary, options);
    this.retryAfterMs = options.retryAfterMs;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }
  override get transient(): boolean {
    return true;
  }
}

/**
 * The function's declared scopes do not cover this call, so it was not sent: add the scope
 * to the function's manifest entry (and its key) or drop the call.
 */
export class FlxblScopeError extends FlxblError {
  override name = "FlxblScopeError";
  readonly missingScope: string;
  constructor(site: CallSite, missingScope: string, declared: readonly string[]) {
    super(
      site,
      `is outside this function's scopes: needs ${missingScope}, declared [${declared.join(", ")}]. Add it to the manifest entry or drop the call`,
    );
    this.missingScope = missingScope;
  }
}

/** FLXBL answered 2xx with a body the client cannot read (not JSON, or the wrong shape). */
export class FlxblResponseError extends FlxblError {
  override name = "FlxblResponseError";
}
