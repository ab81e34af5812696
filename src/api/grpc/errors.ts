/**
 * The one place an error becomes a gRPC status: error kind → code, with the error's message as the details.
 * A status a handler chose (one its kind does not have by itself) maps as TorchServe's GRPCUtils maps it.
 */
import * as grpc from '@grpc/grpc-js';
import { isServeError, ServeError, STATUS_OF, type ErrorKind } from '../../errors.ts';

const { status: S } = grpc;

export const CODE_OF: Readonly<Record<ErrorKind, grpc.status>> = Object.freeze({
  BadRequest: S.INVALID_ARGUMENT,
  InvalidArchive: S.INVALID_ARGUMENT,
  Unauthorized: S.UNAUTHENTICATED,
  Forbidden: S.PERMISSION_DENIED,
  MethodNotAllowed: S.PERMISSION_DENIED, // the model API is disabled (TorchServe: PERMISSION_DENIED)
  ModelNotFound: S.NOT_FOUND,
  NotFound: S.NOT_FOUND,
  Conflict: S.ABORTED, // TorchServe maps 409 to ABORTED
  PayloadTooLarge: S.RESOURCE_EXHAUSTED,
  UnsupportedMediaType: S.INVALID_ARGUMENT,
  ServiceUnavailable: S.UNAVAILABLE,
  ResponseTimeout: S.DEADLINE_EXCEEDED,
  HandlerError: S.INTERNAL,
  InternalServerError: S.INTERNAL,
  OutOfResources: S.RESOURCE_EXHAUSTED,
});

/** TorchServe's HTTP status → gRPC code (GRPCUtils.getGRPCStatusCode), for statuses a handler chose. */
export function codeForStatus(status: number): grpc.status {
  const table: Record<number, grpc.status> = {
    400: S.INVALID_ARGUMENT, 401: S.UNAUTHENTICATED, 403: S.PERMISSION_DENIED, 404: S.NOT_FOUND, 409: S.ABORTED,
    413: S.RESOURCE_EXHAUSTED, 429: S.RESOURCE_EXHAUSTED, 416: S.OUT_OF_RANGE, 499: S.CANCELLED, 501: S.UNIMPLEMENTED,
    503: S.UNAVAILABLE, 504: S.DEADLINE_EXCEEDED,
  };
  if (table[status] !== undefined) return table[status];
  if (status >= 200 && status < 300) return S.OK;
  if (status >= 400 && status < 500) return S.FAILED_PRECONDITION;
  return S.INTERNAL;
}

/** Any thrown value as a ServeError (an unexpected one is a 500 that says what happened). */
export function asServeError(err: unknown): ServeError {
  if (isServeError(err)) return err;
  return new ServeError('InternalServerError', `internal error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

export function grpcCode(err: ServeError): grpc.status {
  if (err.status === 501) return S.UNIMPLEMENTED;
  // A status other than the kind's own was chosen by a handler: map that status, as TorchServe does.
  return err.status !== STATUS_OF[err.kind] ? codeForStatus(err.status) : CODE_OF[err.kind];
}

/** The error a call ends with: its code and the message; `x-request-id` in the trailers. */
export function toGrpcError(err: ServeError, requestId?: string): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (requestId) metadata.set('x-request-id', requestId);
  return { code: grpcCode(err), details: err.message, metadata };
}

/** The HTTP-equivalent status of a gRPC code, for the response-class metrics and the access log. */
export function httpStatusOf(code: grpc.status, err?: ServeError): number {
  if (err) return err.status;
  return code === S.OK ? 200 : code === S.UNIMPLEMENTED ? 501 : code === S.UNAUTHENTICATED ? 401 : 500;
}

export const unimplemented = (what: string): ServeError =>
  new ServeError('InternalServerError', what, { status: 501 });
