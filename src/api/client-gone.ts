/**
 * An abort signal for a request whose client went away: the connection closed before the answer was written
 * (a client that timed out, a load balancer that gave up). Queued work for it leaves the queue unrun instead of
 * taking a worker from clients still waiting; work already running finishes and its answer is dropped.
 */
import type { Context } from 'koa';
import { ServeError } from '../errors.ts';

export function clientGone(ctx: Context): AbortSignal {
  const controller = new AbortController();
  const res = ctx.res;
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new ServeError('ServiceUnavailable', 'the client disconnected before its answer'));
  });
  return controller.signal;
}
