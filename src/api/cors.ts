/**
 * CORS, off unless `cors_allowed_origin` is set (TorchServe's keys). Our own few lines rather than a package: the
 * rules are short, and they must run before the token check so that a browser's preflight (which never carries
 * the token) is answered.
 *
 * - `cors_allowed_origin`: `*`, or a comma list of exact origins (`https://app.example.com`).
 * - `cors_allowed_methods`: comma list; default `GET, POST, PUT, DELETE, OPTIONS`.
 * - `cors_allowed_headers`: comma list; default `Authorization, Content-Type, X-Request-Id`.
 * A request from an allowed origin gets `Access-Control-Allow-Origin` (and `Vary: Origin` unless `*`) and sees
 * `x-request-id` and `Retry-After`; a preflight from one (OPTIONS with `Access-Control-Request-Method`) is
 * answered 204 here. Other origins get no CORS headers, so browsers keep the answer from their scripts.
 */
import type { Context, Middleware, Next } from 'koa';

export interface CorsSettings {
  readonly corsAllowedOrigin?: string;
  readonly corsAllowedMethods?: string;
  readonly corsAllowedHeaders?: string;
}

const list = (s: string | undefined, fallback: string): string =>
  (s ?? fallback).split(',').map((e) => e.trim()).filter((e) => e !== '').join(', ') || fallback;

/** Preflight answers may be cached by the browser this long (seconds). */
const MAX_AGE = 600;

/** The CORS middleware, or undefined when CORS is off. */
export function corsMiddleware(c: CorsSettings): Middleware | undefined {
  const configured = c.corsAllowedOrigin?.trim();
  if (!configured) return undefined;
  const origins = configured.split(',').map((o) => o.trim().replace(/\/+$/, '')).filter((o) => o !== '');
  const any = origins.includes('*');
  const methods = list(c.corsAllowedMethods, 'GET, POST, PUT, DELETE, OPTIONS');
  const headers = list(c.corsAllowedHeaders, 'Authorization, Content-Type, X-Request-Id');

  return async (ctx: Context, next: Next): Promise<void> => {
    const origin = ctx.get('origin');
    if (origin === '' || !(any || origins.includes(origin))) return next();
    ctx.set('Access-Control-Allow-Origin', any ? '*' : origin);
    if (!any) ctx.vary('Origin');
    if (ctx.method === 'OPTIONS' && ctx.get('access-control-request-method') !== '') {
      ctx.set('Access-Control-Allow-Methods', methods);
      ctx.set('Access-Control-Allow-Headers', headers);
      ctx.set('Access-Control-Max-Age', String(MAX_AGE));
      ctx.status = 204;
      return;
    }
    ctx.set('Access-Control-Expose-Headers', 'x-request-id, Retry-After');
    await next();
  };
}
