/** The inference API: /ping and /predictions, a thin adapter over the registry's data plane. */
import { performance } from 'node:perf_hooks';
import Koa, { type Context, type Middleware } from 'koa';
import Router from '@koa/router';
import type { Logger } from '../log.ts';
import type { ServerMetrics } from '../metrics/metrics.ts';
import type { Registry } from '../registry/registry.ts';
import { clientGone } from './client-gone.ts';
import { decodeRequest, makeFormParser } from './decode.ts';
import { inferenceDocument } from './openapi/inference.ts';
import { apiDescription, modelDescription } from './openapi/serve.ts';
import { useFront } from './front.ts';
import { sendWireResponse } from './respond.ts';
import { kserveV1 } from './v1/routes.ts';
import { openInferenceV2 } from './v2/routes.ts';

export interface InferenceDeps {
  registry: Registry;
  metrics: ServerMetrics;
  log: Logger;
  maxRequestSize: number;
  maxResponseSize?: number;
  /** Register/unregister allowed (enable_model_api): gates the v2 repository's load and unload. */
  modelApi?: boolean;
  /** Healthy: start-up finished and every model has its minimum of ready workers. */
  healthy: () => boolean;
  /** Why /ping is Unhealthy, when it is for a reason a user can act on (a model named at start failed). */
  unhealthyReason?: () => string | undefined;
  /** Security (src/api/cors.ts, src/api/auth.ts): CORS when configured, then the token check when tokens are on. */
  cors?: Middleware;
  auth?: Middleware;
}

/** `/predictions/{model}[/{version}]` with an optional trailing slash, as the router matches it. */
const PREDICTIONS_PATH = /^\/predictions\/([^/]+)(?:\/([^/]+))?\/?$/;

/** A path segment decoded as @koa/router decodes parameters: left as it is when it is not valid percent-encoding. */
function segment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * POST and PUT on /predictions, dispatched before the description, KServe v1, v2 and router middleware they would
 * otherwise pass through. With the pass-through middleware no longer async, this took the main thread's CPU per
 * small-model request from ~52 to ~45 µs. The router keeps these routes for OPTIONS, 405 with `Allow`, and the
 * route listing.
 */
function predictionsFirst(predict: (ctx: Context) => Promise<void>): Middleware {
  return (ctx, next) => {
    if (ctx.method !== 'POST' && ctx.method !== 'PUT') return next();
    const m = PREDICTIONS_PATH.exec(ctx.path);
    if (m === null) return next();
    ctx.params = m[2] === undefined ? { model: segment(m[1]) } : { model: segment(m[1]), version: segment(m[2]) };
    return predict(ctx);
  };
}

export function createInferenceApp(deps: InferenceDeps): Koa {
  const app = new Koa();
  const router = new Router();
  const form = makeFormParser(deps.maxRequestSize);

  router.get('/ping', (ctx) => {
    const healthy = deps.healthy();
    ctx.status = healthy ? 200 : 500;
    const reason = healthy ? undefined : deps.unhealthyReason?.();
    ctx.body = reason ? { status: 'Unhealthy', reason } : { status: healthy ? 'Healthy' : 'Unhealthy' };
  });

  const predict = async (ctx: Context) => {
    const started = performance.now();
    const { model, version } = ctx.params as { model: string; version?: string };
    const mv = deps.registry.get(model, version);
    ctx.state.model = { name: mv.name, version: mv.version };
    deps.metrics.received(mv.name, version);
    const { request, transfer } = await decodeRequest(ctx, ctx.state.requestId as string, form, deps.maxRequestSize);
    const outcome = await mv.infer(request, transfer, undefined, { signal: clientGone(ctx) });
    sendWireResponse(ctx, outcome.response, deps.maxResponseSize);
    ctx.state.model.batchSize = outcome.batchSize;
    deps.metrics.served({ model: mv.name, version: mv.version, requestedVersion: version, totalMs: performance.now() - started, outcome });
  };
  for (const path of ['/predictions/:model', '/predictions/:model/:version']) {
    router.post(path, predict);
    router.put(path, predict);
    router.options(path, modelDescription(deps.registry)); // the model's own OpenAPI document (needs the token, as in TorchServe)
  }

  const alive = (ctx: Context) => {
    ctx.body = { status: 'alive' }; // KServe's liveness answer
  };
  useFront(app, deps, apiDescription(inferenceDocument({ tokens: deps.auth !== undefined }), alive));
  app.use(predictionsFirst(predict));
  app.use(kserveV1(deps)); // /v1/...: KServe v1, errors as {"error": …}
  app.use(openInferenceV2(deps)); // /v2/...: Open Inference Protocol v2, errors as {"error": …}
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
