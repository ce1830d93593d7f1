import { ErrorCode, ErrorKind, HTTP_STATUS, KIND_OF, PUBLIC_MESSAGE } from "./codes.js";

export { ErrorCode, ErrorKind, HTTP_STATUS, PUBLIC_MESSAGE };

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** Whether a string is one of the service's stable codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && CODES.has(value);
}

export interface RelaypassErrorOptions {
  /** The HTTP status the service answered, when there was an answer. */
  status?: number;
  /** Seconds the service asked to wait before retrying (`Retry-After`). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/**
 * Every refusal the package reports: a refused connect, a refused operation, a failed refresh.
 *
 * Branch on `kind` first (`err.kind === ErrorKind.Auth`: get a new token), then on `code`
 * (the service's stable code). `message` is for logs; `publicMessage` may be shown to a person.
 */
export class RelaypassError extends Error {
  override readonly name = "RelaypassError";
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly status: number | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message?: string, options: RelaypassErrorOptions = {}) {
    super(message ?? PUBLIC_MESSAGE[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.kind = KIND_OF[code];
    this.status = options.status;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** What a person may be shown. */
  get publicMessage(): string {
    return PUBLIC_MESSAGE[this.code];
  }

  /**
   * The error for a service's refusal: problem+json (`{code, detail}`), a gate's `{code, reason}`,
   * or, without a known code, the code its HTTP status implies.
   */
  static fromResponse(status: number, body: unknown, retryAfter?: string | null): RelaypassError {
    const fields = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    const detail = fields["detail"] ?? fields["reason"];
    const code = isErrorCode(fields["code"]) ? fields["code"] : codeForStatus(status);
    const seconds = retryAfter ? Number.parseInt(retryAfter, 10) : Number.NaN;
    return new RelaypassError(code, typeof detail === "string" ? detail : undefined, {
      status,
      ...(Number.isFinite(seconds) ? { retryAfterSeconds: seconds } : {}),
    });
  }

  /** A request that got no answer at all (offline, DNS, refused connection). */
  static network(cause: unknown): RelaypassError {
    return new RelaypassError(ErrorCode.UNAVAILABLE, "the service could not be reached", { cause });
  }
}

/** The code a bare HTTP status stands for. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 401) return ErrorCode.INVALID_TOKEN;
  if (status === 403) return ErrorCode.INVALID_PERMISSIONS;
  if (status === 429) return ErrorCode.RATE_LIMITED;
  if (status >= 500) return ErrorCode.UNAVAILABLE;
  return ErrorCode.INVALID_REQUEST;
}
