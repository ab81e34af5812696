/** Every response carries `x-request-id`: the client's, when it sent a sane one, else a new UUID. */
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';

const SANE = /^[A-Za-z0-9._:\-]{1,128}$/;

/** Not async: it hands on `next()`'s promise rather than wrapping it in one more per request. */
export function requestIdMiddleware(ctx: Context, next: Next): Promise<void> {
  const given = ctx.get('x-request-id');
  const id = SANE.test(given) ? given : randomUUID();
  ctx.state.requestId = id;
  ctx.set('x-request-id', id);
  return next();
}
