/**
 * Errors that carry their HTTP meaning. Every room throws these (or plain objects of the same shape when
 * crossing the thread boundary); `src/api/errors.ts` is the one place that turns them into responses.
 * This module imports nothing so that every room, including worker threads, may use it.
 */

/** Stable error kinds; the table below is the only place a kind becomes a status. */
export type ErrorKind =
  | 'BadRequest'
  | 'InvalidArchive'
  | 'Unauthorized'
  | 'Forbidden'
  | 'MethodNotAllowed'
  | 'ModelNotFound'
  | 'NotFound'
  | 'Conflict'
  | 'PayloadTooLarge'
  | 'UnsupportedMediaType'
  | 'ServiceUnavailable'
  | 'ResponseTimeout'
  | 'HandlerError'
  | 'InternalServerError'
  | 'OutOfResources';

export const STATUS_OF: Readonly<Record<ErrorKind, number>> = Object.freeze({
  BadRequest: 400,
  InvalidArchive: 400,
  Unauthorized: 401,
  Forbidden: 403,
  MethodNotAllowed: 405,
  ModelNotFound: 404,
  NotFound: 404,
  Conflict: 409,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  ServiceUnavailable: 503,
  ResponseTimeout: 504,
  HandlerError: 500,
  InternalServerError: 500,
  OutOfResources: 507,
});

/** TorchServe's `type` names for the kinds where its clients look at them. */
const TYPE_NAME: Partial<Record<ErrorKind, string>> = {
  BadRequest: 'BadRequestException',
  InvalidArchive: 'InvalidModelException',
  ModelNotFound: 'ModelNotFoundException',
  NotFound: 'ResourceNotFoundException',
  Conflict: 'ConflictStatusException',
  MethodNotAllowed: 'MethodNotAllowedException',
  ServiceUnavailable: 'ServiceUnavailableException',
  ResponseTimeout: 'RequestTimeoutException',
  HandlerError: 'InternalServerException',
  InternalServerError: 'InternalServerException',
  OutOfResources: 'OutOfResourcesException',
};

export class ServeError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  /** Seconds a client should wait before retrying (sent as Retry-After on 503). */
  readonly retryAfter?: number;

  constructor(kind: ErrorKind, message: string, options: { status?: number; retryAfter?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServeError';
    this.kind = kind;
    this.status = options.status ?? STATUS_OF[kind];
    this.retryAfter = options.retryAfter ?? (this.status === 503 ? 1 : undefined);
  }

  get type(): string {
    return TYPE_NAME[this.kind] ?? this.kind;
  }

  /** The plain, structured-cloneable form used across worker threads. */
  toWire(): WireError {
    return { kind: this.kind, status: this.status, message: this.message };
  }

  static fromWire(w: WireError): ServeError {
    return new ServeError(w.kind, w.message, { status: w.status });
  }
}

export interface WireError {
  kind: ErrorKind;
  status: number;
  message: string;
}

export function isServeError(e: unknown): e is ServeError {
  return e instanceof ServeError;
}

/** The kind for an arbitrary HTTP status, used for statuses chosen by a handler. */
export function kindForStatus(status: number): ErrorKind {
  for (const [kind, s] of Object.entries(STATUS_OF) as [ErrorKind, number][]) {
    if (s === status) return kind;
  }
  return status >= 500 ? 'HandlerError' : 'BadRequest';
}
