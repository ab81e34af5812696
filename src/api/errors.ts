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

/**
 * The error for a request no route answered: nothing matched (404, with `notFound` as the message), or the path
 * exists for other methods (405, or 501 for a method the router does not know, naming the `Allow` list that
 * @koa/router's allowedMethods set). Undefined when there is a body or the status is not an error.
 */
export function unanswered(ctx: Context, notFound: string): ServeError | undefined {
  if (ctx.body != null || ctx.status < 400) return undefined;
  if (ctx.status === 404) return new ServeError('NotFound', notFound);
  const allow = ctx.response.get('Allow');
  return new ServeError('MethodNotAllowed', `method ${ctx.method} is not allowed on ${ctx.path}${allow ? `; allowed: ${allow}` : ''}`, {
    status: ctx.status,
  });
}

export function errorMiddleware(log: (msg: string, extra: Record<string, unknown>) => void) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      const missed = unanswered(ctx, 'Requested resource is not found, please refer to API document.');
      if (missed) throw missed;
    } catch (err) {
      const se = asServeError(err);
      if (se.status >= 500 && !isServeError(err)) {
        log('unexpected error', { path: ctx.path, error: (err as Error)?.stack ?? String(err) });
      }
      sendError(ctx, se);
    }
  };
}
