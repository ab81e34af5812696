/**
 * Errors on the KServe v1 and Open Inference Protocol v2 routes: `{"error": "…"}` with the status of the one
 * table in `src/errors.ts` (and `Retry-After` on 503). The TorchServe routes keep `src/api/errors.ts`'s shape.
 */
import type { Context, Middleware, Next } from 'koa';
import type Router from '@koa/router';
import { isServeError, ServeError } from '../../errors.ts';
import { asServeError, unanswered } from '../errors.ts';

export type LogError = (msg: string, extra: Record<string, unknown>) => void;

export function sendOipError(ctx: Context, err: ServeError): void {
  ctx.status = err.status;
  ctx.body = JSON.stringify({ error: err.message });
  // Exactly `application/json` (Koa would add `; charset=utf-8`): KServe's SDK reads an error body only then.
  ctx.set('Content-Type', 'application/json');
  if (err.retryAfter !== undefined) ctx.set('Retry-After', String(err.retryAfter));
}

/** Wraps one protocol's router: its routes, 405/501 for wrong methods, 404 for unknown paths, errors as JSON. */
export function protocolMiddleware(router: Router, owns: (path: string) => boolean, log: LogError): Middleware {
  const routes = router.routes() as unknown as Middleware;
  const allowed = router.allowedMethods() as unknown as Middleware;
  const handle = async (ctx: Context): Promise<void> => {
    try {
      await routes(ctx, () => allowed(ctx, async () => {}));
      const missed = unanswered(ctx, `no such endpoint: ${ctx.method} ${ctx.path}`);
      if (missed) throw missed;
    } catch (err) {
      const se = asServeError(err);
      if (se.status >= 500 && !isServeError(err)) {
        log('unexpected error', { path: ctx.path, error: (err as Error)?.stack ?? String(err) });
      }
      sendOipError(ctx, se);
    }
  };
  // Not async: requests for the app's other routes pass through here.
  return (ctx: Context, next: Next): Promise<void> => (owns(ctx.path) ? handle(ctx) : next());
}
