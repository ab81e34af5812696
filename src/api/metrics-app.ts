/** The metrics API: Prometheus text from the server's own prom-client registry, `?name[]=` to pick metrics. */
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from '../log.ts';
import type { ServerMetrics } from '../metrics/metrics.ts';
import { accessLog } from './access-log.ts';
import { errorMiddleware } from './errors.ts';
import { requestIdMiddleware } from './request-id.ts';

export function createMetricsApp(deps: { metrics: ServerMetrics; log: Logger }): Koa {
  const app = new Koa();
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    // TorchServe's filter is `name[]=a&name[]=b`; a plain `name=a` is taken too.
    const wanted = [ctx.query['name[]'], ctx.query.name].flat().filter((n): n is string => typeof n === 'string');
    const names = ctx.query['name[]'] === undefined && ctx.query.name === undefined ? undefined : wanted;
    ctx.type = deps.metrics.contentType;
    ctx.body = await deps.metrics.text(names);
  });
  app.use(accessLog(deps.log));
  app.use(requestIdMiddleware);
  app.use(errorMiddleware((msg, extra) => deps.log.error(extra, msg)));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
