/**
 * Errors on the KServe v1 and Open Inference Protocol v2 routes: `{"error": "…"}` with the status of the one
 * table in `src/errors.ts` (and `Retry-After` on 503). The TorchServe routes keep `src/api/errors.ts`'s shape.
 */
import type { Context, Middleware, Next } from 'koa';
import type Router from '@koa/router';
import { isServeError, ServeError } from '../../errors.ts';
import { asServeError } from '../errors.ts';

export type LogError = (msg: string, extra: Record<string, unknown>) => void;

export function sendOipError(ctx: Context, err: ServeError): void {
  ctx.status = err.status;
  ctx.body = { error: err.message };
  if (err.retryAfter !== undefined) ctx.set('Retry-After', String(err.retryAfter));
}

/** Wraps one protocol's router: its routes, 405/501 for wrong methods, 404 for unknown paths, errors as JSON. */
export function protocolMiddleware(router: Router, owns: (path: string) => boolean, log: LogError): Middleware {
  const routes = router.routes() as unknown as Middleware;
  const allowed = router.allowedMethods() as unknown as Middleware;
  return async (ctx: Context, next: Next): Promise<void> => {
    if (!owns(ctx.path)) return next();
    try {
      await routes(ctx, () => allowed(ctx, async () => {}));
      if (ctx.body == null && ctx.status >= 400) {
        if (ctx.status === 404) throw new ServeError('NotFound', `no such endpoint: ${ctx.method} ${ctx.path}`);
        const allow = ctx.response.get('Allow');
        throw new ServeError('MethodNotAllowed', `method ${ctx.method} is not allowed on ${ctx.path}${allow ? `; allowed: ${allow}` : ''}`, {
          status: ctx.status,
        });
      }
    } catch (err) {
      const se = asServeError(err);
      if (se.status >= 500 && !isServeError(err)) {
        log('unexpected error', { path: ctx.path, error: (err as Error)?.stack ?? String(err) });
      }
      sendOipError(ctx, se);
    }
  };
}
