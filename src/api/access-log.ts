/**
 * One access-log line per request, on every app: a JSON line through the server's logger, on a child logger
 * with `component: "access"` so log pipelines can route it. The inference routes put
 * `ctx.state.model = {name, version, batchSize}` to name the model that served the request.
 */
import { performance } from 'node:perf_hooks';
import type { Context, Next } from 'koa';
import type { Logger } from '../log.ts';

export interface ModelState {
  name: string;
  version: string;
  batchSize?: number;
}

/** `onResponse` is told the status of every request that came back through the app (not thrown past it). */
export function accessLog(log: Logger, onResponse?: (status: number) => void) {
  const access = log.child({ component: 'access' });
  return async (ctx: Context, next: Next): Promise<void> => {
    const started = performance.now();
    let escapedStatus: number | undefined;
    try {
      await next();
      onResponse?.(ctx.status);
    } catch (err) {
      const s = (err as { status?: unknown })?.status; // Koa answers it after us
      escapedStatus = typeof s === 'number' && s >= 400 && s <= 599 ? s : 500;
      throw err;
    } finally {
      const model = ctx.state.model as ModelState | undefined;
      const status = escapedStatus ?? ctx.status;
      // A 5xx is the server's problem: at error level, so `MS_LOG_LEVEL=error` and level filters still show it.
      (status >= 500 ? access.error : access.info).call(
        access,
        {
          method: ctx.method,
          path: ctx.path,
          status,
          ms: Math.round((performance.now() - started) * 1000) / 1000,
          model: model?.name,
          version: model?.version,
          batchSize: model?.batchSize,
          requestId: ctx.state.requestId as string | undefined,
          remote: ctx.ip,
        },
        `${ctx.method} ${ctx.path} ${status}`,
      );
    }
  };
}
