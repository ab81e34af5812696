/** The metrics API: Prometheus text from the server's own prom-client registry. */
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from '../log.ts';
import type { ServerMetrics } from '../metrics/metrics.ts';
import { errorMiddleware } from './errors.ts';
import { requestIdMiddleware } from './request-id.ts';

export function createMetricsApp(deps: { metrics: ServerMetrics; log: Logger }): Koa {
  const app = new Koa();
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    const reg = deps.metrics.registry;
    const wanted = ctx.query['name[]'];
    const names = wanted === undefined ? undefined : Array.isArray(wanted) ? wanted : [wanted];
    ctx.type = reg.contentType;
    ctx.body = names
      ? (await Promise.all(names.map((n) => reg.getSingleMetricAsString(n).catch(() => '')))).filter(Boolean).join('\n') + '\n'
      : await reg.metrics();
  });
  app.use(requestIdMiddleware);
  app.use(errorMiddleware((msg, extra) => deps.log.error(extra, msg)));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
