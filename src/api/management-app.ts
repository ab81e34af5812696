/** The management API (TorchServe's shapes): list and describe models. */
import Koa from 'koa';
import Router from '@koa/router';
import { ServeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ServerMetrics } from '../metrics/metrics.ts';
import type { Registry } from '../registry/registry.ts';
import { describeVersion } from './describe.ts';
import { errorMiddleware } from './errors.ts';
import { requestIdMiddleware } from './request-id.ts';

export interface ManagementDeps {
  registry: Registry;
  metrics: ServerMetrics;
  log: Logger;
}

function intParam(value: string | string[] | undefined, name: string, dflt: number, min: number): number {
  if (value === undefined) return dflt;
  const s = Array.isArray(value) ? value[0] : value;
  if (!/^\d+$/.test(s) || Number(s) < min) {
    throw new ServeError('BadRequest', `parameter ${name} = "${s}" is not allowed: expected an integer ≥ ${min}`);
  }
  return Number(s);
}

export function createManagementApp(deps: ManagementDeps): Koa {
  const app = new Koa();
  const router = new Router();
  const { registry } = deps;

  router.get('/models', (ctx) => {
    const limit = Math.min(intParam(ctx.query.limit, 'limit', 100, 1), 100);
    const start = intParam(ctx.query.next_page_token, 'next_page_token', 0, 0);
    const all = registry.list();
    const page = all.slice(start, start + limit);
    const body: { nextPageToken?: string; models: { modelName: string; modelUrl: string }[] } = {
      models: page.map((mv) => ({ modelName: mv.name, modelUrl: mv.url })),
    };
    if (start + limit < all.length) body.nextPageToken = String(start + limit);
    ctx.body = body;
  });

  router.get('/models/:name', (ctx) => {
    ctx.body = [describeVersion(registry, registry.get(ctx.params.name))];
  });

  router.get('/models/:name/:version', (ctx) => {
    const { name, version } = ctx.params;
    const versions = version === 'all' ? registry.versionsOf(name) : [registry.get(name, version)];
    ctx.body = versions.map((mv) => describeVersion(registry, mv));
  });

  app.use(async (ctx, next) => {
    await next();
    deps.metrics.response(ctx.status);
  });
  app.use(requestIdMiddleware);
  app.use(errorMiddleware((msg, extra) => deps.log.error(extra, msg)));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
