/** The one place errors become HTTP responses, in TorchServe's JSON shape. */
import type { Context, Next } from 'koa';
import { isServeError, ServeError } from '../errors.ts';

export function errorBody(err: ServeError): { code: number; type: string; message: string } {
  return { code: err.status, type: err.type, message: err.message };
}

/** Normalises anything thrown below into a ServeError (Koa/http-errors, body parsers, bugs). */
export function asServeError(err: unknown): ServeError {
  if (isServeError(err)) return err;
  const e = err as { status?: number; expose?: boolean; message?: string };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    const kind = e.status === 413 ? 'PayloadTooLarge' : e.status === 415 ? 'UnsupportedMediaType' : e.status === 404 ? 'NotFound' : e.status === 405 ? 'MethodNotAllowed' : 'BadRequest';
    return new ServeError(kind, e.expose === false ? 'bad request' : (e.message ?? 'bad request'), { status: e.status });
  }
  return new ServeError('InternalServerError', 'internal server error');
}

export function sendError(ctx: Context, err: ServeError): void {
  ctx.status = err.status;
  ctx.body = errorBody(err);
  if (err.retryAfter !== undefined) ctx.set('Retry-After', String(err.retryAfter));
}

export function errorMiddleware(log: (msg: string, extra: Record<string, unknown>) => void) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new ServeError('NotFound', 'Requested resource is not found, please refer to API document.');
      }
    } catch (err) {
      const se = asServeError(err);
      if (se.status >= 500 && !isServeError(err)) {
        log('unexpected error', { path: ctx.path, error: (err as Error)?.stack ?? String(err) });
      }
      sendError(ctx, se);
    }
  };
}
