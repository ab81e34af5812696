/**
 * Serving the descriptions: `OPTIONS /` and `GET /api-description` answer the app's document (another method
 * on those two paths is a 405 with `Allow`); `OPTIONS /predictions/{model}[/{version}]` answers the model's own.
 */
import type { Context, Middleware, Next } from 'koa';
import Router from '@koa/router';
import { ServeError } from '../../errors.ts';
import type { Registry } from '../../registry/registry.ts';
import { sendError } from '../errors.ts';
import { modelDocument } from './model.ts';
import type { Document } from './types.ts';

const ALLOW: Readonly<Record<string, string>> = { '/': 'OPTIONS', '/api-description': 'GET, HEAD' };

/**
 * The app's description routes; the app mounts this before the token check. It carries its router (`.router`)
 * so that `src/api/routes.ts` lists its routes with the others.
 */
export function apiDescription(document: Document, root?: Middleware): Middleware & { router: Router } {
  const text = JSON.stringify(document);
  const router = new Router();
  // `GET /` (the inference app: KServe's liveness probe, open like /ping).
  const allowed = root ? { ...ALLOW, '/': 'GET, HEAD, OPTIONS' } : ALLOW;
  if (root) router.get('/', root);
  const send = (ctx: Context) => {
    ctx.type = 'application/json';
    ctx.body = text;
  };
  router.options('/', send);
  router.get('/api-description', send);
  const dispatch = router.routes() as unknown as Middleware;
  // Not async: every request of the app passes here, and most just go on to `next()`.
  const mw = (ctx: Context, next: Next): Promise<void> => {
    const allow = allowed[ctx.path];
    if (allow === undefined) return next();
    if (!allow.split(', ').includes(ctx.method)) {
      ctx.set('Allow', allow);
      sendError(ctx, new ServeError('MethodNotAllowed', `method ${ctx.method} is not allowed on ${ctx.path}; allowed: ${allow}`));
      return Promise.resolve();
    }
    return dispatch(ctx, next);
  };
  return Object.assign(mw, { router });
}

/** `OPTIONS /predictions/:model[/:version]`: the model version's own document (a 404 when there is no such model). */
export function modelDescription(registry: Registry): Middleware {
  return (ctx: Context) => {
    const { model, version } = ctx.params as { model: string; version?: string };
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(modelDocument(registry.get(model, version)));
  };
}
