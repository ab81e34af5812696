/**
 * The Open Inference Protocol v2 on the inference port (KServe v2 / Triton HTTP): server and model metadata,
 * health, inference (JSON and the binary tensor data extension) and Triton's model repository extension.
 * Everything under /v2 answers errors as `{"error": "…"}`.
 */
import type { Context, Middleware } from 'koa';
import Router from '@koa/router';
import { ServeError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { ServerMetrics } from '../../metrics/metrics.ts';
import type { Registry } from '../../registry/registry.ts';
import { responseCompression } from '../compress.ts';
import { readOptionalJson } from './body.ts';
import { protocolMiddleware } from './errors.ts';
import { infer } from './infer.ts';
import { isReady, modelMetadata, serverMetadata } from '../../dataplane/metadata.ts';
import { loadModel, repositoryIndex, unloadModel } from '../../dataplane/repository.ts';
import { modelConfigJson } from '../../dataplane/config.ts';
import { modelStatistics } from '../../dataplane/statistics.ts';

export interface OipDeps {
  registry: Registry;
  metrics: ServerMetrics;
  log: Logger;
  maxRequestSize: number;
  /** Bytes; a larger response is refused with a 500 that says so (TorchServe's max_response_size). */
  maxResponseSize?: number;
  /** Server readiness: start-up finished and every model has its minimum of ready workers. */
  healthy: () => boolean;
  /** Loading and unloading models is allowed (enable_model_api), as for the management API. */
  modelApi?: boolean;
}

/** Small JSON bodies of the repository endpoints. */
const SMALL_BODY = 1024 * 1024;

function objectBody(v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ServeError('BadRequest', 'the request body must be a JSON object');
  return v as Record<string, unknown>;
}

export function openInferenceV2(deps: OipDeps): Middleware {
  const { registry } = deps;
  const router = new Router();
  const params = (ctx: Context) => ctx.params as { name: string; version?: string };
  const compressed = responseCompression();

  router.get('/v2', (ctx) => {
    ctx.body = serverMetadata();
  });
  router.get('/v2/health/live', (ctx) => {
    ctx.body = { live: true };
  });
  router.get('/v2/health/ready', (ctx) => {
    const ready = deps.healthy();
    ctx.status = ready ? 200 : 400; // the status is the answer; 4xx means not ready
    ctx.body = { ready };
  });

  // Before /v2/models/:name, as in Triton: a model named "stats" is reached by its versions path.
  router.get('/v2/models/stats', (ctx) => {
    ctx.body = modelStatistics(registry);
  });
  for (const base of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    router.get(`${base}/config`, (ctx) => {
      const { name, version } = params(ctx);
      ctx.body = modelConfigJson(registry.get(name, version));
    });
    router.get(`${base}/stats`, (ctx) => {
      const { name, version } = params(ctx);
      ctx.body = modelStatistics(registry, name, version);
    });
    router.get(base, (ctx) => {
      const { name, version } = params(ctx);
      ctx.body = modelMetadata(registry, registry.get(name, version));
    });
    router.get(`${base}/ready`, (ctx) => {
      const { name, version } = params(ctx);
      const mv = registry.get(name, version);
      const ready = isReady(mv);
      ctx.status = ready ? 200 : 400;
      ctx.body = { name: mv.name, ready };
    });
    router.post(`${base}/infer`, compressed, async (ctx) => {
      const { name, version } = params(ctx);
      await infer(ctx, deps, name, version);
    });
  }

  router.post('/v2/repository/index', async (ctx) => {
    const body = objectBody(await readOptionalJson(ctx, SMALL_BODY));
    if (body.ready !== undefined && typeof body.ready !== 'boolean') throw new ServeError('BadRequest', '"ready" must be true or false');
    ctx.body = await repositoryIndex(registry, body.ready === true);
  });
  const gate = () => {
    if (deps.modelApi === false) {
      throw new ServeError('MethodNotAllowed', 'the model API is disabled: set enable_model_api=true to load or unload models');
    }
  };
  router.post('/v2/repository/models/:name/load', async (ctx) => {
    gate();
    const body = objectBody(await readOptionalJson(ctx, SMALL_BODY));
    const p = body.parameters;
    if (p !== undefined && (p === null || typeof p !== 'object' || Array.isArray(p))) {
      throw new ServeError('BadRequest', '"parameters" must be an object');
    }
    await loadModel(registry, params(ctx).name, p as Record<string, unknown> | undefined);
    ctx.body = { name: params(ctx).name, load: true };
  });
  router.post('/v2/repository/models/:name/unload', async (ctx) => {
    gate();
    objectBody(await readOptionalJson(ctx, SMALL_BODY));
    await unloadModel(registry, params(ctx).name);
    ctx.body = { name: params(ctx).name, unload: true };
  });

  const owns = (p: string) => p === '/v2' || p.startsWith('/v2/');
  // Carries its router so that src/api/routes.ts (routesOf) lists these routes with the app's others.
  return Object.assign(protocolMiddleware(router, owns, (msg, extra) => deps.log.error(extra, msg)), { router });
}
