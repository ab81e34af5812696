/** The inference API: /ping and /predictions, a thin adapter over the registry's data plane. */
import { performance } from 'node:perf_hooks';
import Koa, { type Context } from 'koa';
import Router from '@koa/router';
import type { Logger } from '../log.ts';
import type { ServerMetrics } from '../metrics/metrics.ts';
import type { Registry } from '../registry/registry.ts';
import { accessLog } from './access-log.ts';
import { decodeRequest, makeFormParser } from './decode.ts';
import { errorMiddleware } from './errors.ts';
import { requestIdMiddleware } from './request-id.ts';
import { sendWireResponse } from './respond.ts';

export interface InferenceDeps {
  registry: Registry;
  metrics: ServerMetrics;
  log: Logger;
  maxRequestSize: number;
  /** Healthy: start-up finished and every model has its minimum of ready workers. */
  healthy: () => boolean;
}

export function createInferenceApp(deps: InferenceDeps): Koa {
  const app = new Koa();
  const router = new Router();
  const form = makeFormParser(deps.maxRequestSize);

  router.get('/ping', (ctx) => {
    const healthy = deps.healthy();
    ctx.status = healthy ? 200 : 500;
    ctx.body = { status: healthy ? 'Healthy' : 'Unhealthy' };
  });

  const predict = async (ctx: Context) => {
    const started = performance.now();
    const { model, version } = ctx.params as { model: string; version?: string };
    const mv = deps.registry.get(model, version);
    ctx.state.model = { name: mv.name, version: mv.version };
    deps.metrics.received(mv.name, version);
    const { request, transfer } = await decodeRequest(ctx, ctx.state.requestId as string, form, deps.maxRequestSize);
    const outcome = await mv.infer(request, transfer);
    sendWireResponse(ctx, outcome.response);
    ctx.state.model.batchSize = outcome.batchSize;
    deps.metrics.served({ model: mv.name, version: mv.version, requestedVersion: version, totalMs: performance.now() - started, outcome });
  };
  for (const path of ['/predictions/:model', '/predictions/:model/:version']) {
    router.post(path, predict);
    router.put(path, predict);
  }

  app.use(accessLog(deps.log));
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
