/** The management API with TorchServe's endpoints, parameters, status codes and bodies. */
import Koa, { type Context, type Middleware } from 'koa';
import Router from '@koa/router';
import { ServeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ServerMetrics } from '../metrics/metrics.ts';
import type { ModelVersion } from '../registry/model-version.ts';
import type { Registry } from '../registry/registry.ts';
import { describeVersion } from './describe.ts';
import { managementDocument } from './openapi/management.ts';
import { apiDescription } from './openapi/serve.ts';
import { boolParam, intParam, runtimeParam, readParams } from './params.ts';
import { useFront } from './front.ts';

export interface ManagementDeps {
  registry: Registry;
  metrics: ServerMetrics;
  log: Logger;
  /** Register and unregister are allowed (enable_model_api). */
  modelApi: boolean;
  /** Turns a `url` parameter into a model-store archive name (checks allowed_urls, downloads when allowed). */
  resolveUrl: (url: string) => Promise<string>;
  /** Security (src/api/cors.ts, src/api/auth.ts): CORS when configured, then the token check when tokens are on. */
  cors?: Middleware;
  auth?: Middleware;
  /** TorchServe's `GET /token?type=…` (src/api/auth.ts `tokenRoute`). */
  tokenApi?: Middleware;
}

const status = (ctx: Context, code: number, text: string) => {
  ctx.status = code;
  ctx.body = { status: text };
};

export function createManagementApp(deps: ManagementDeps): Koa {
  const app = new Koa();
  const router = new Router();
  const { registry } = deps;
  const gate = () => {
    if (!deps.modelApi) {
      throw new ServeError('MethodNotAllowed', 'the model API is disabled: set enable_model_api=true to register or unregister models');
    }
  };

  router.get('/models', async (ctx) => {
    const p = await readParams(ctx);
    const limit = Math.min(intParam(p, 'limit', 0) ?? 100, 100) || 100;
    const start = intParam(p, 'next_page_token', 0) ?? 0;
    const all = registry.list();
    const body: { nextPageToken?: string; models: { modelName: string; modelUrl: string }[] } = {
      models: all.slice(start, start + limit).map((mv) => ({ modelName: mv.name, modelUrl: mv.url })),
    };
    if (start + limit < all.length) body.nextPageToken = String(start + limit);
    ctx.body = body;
  });

  router.post('/models', async (ctx) => {
    gate();
    const p = await readParams(ctx);
    if (!p.url) throw new ServeError('BadRequest', 'Parameter url is required.');
    const batchSize = intParam(p, 'batch_size', 1);
    const maxBatchDelay = intParam(p, 'max_batch_delay', 0);
    const responseTimeout = intParam(p, 'response_timeout', -1);
    const initialWorkers = intParam(p, 'initial_workers', 0);
    const synchronous = boolParam(p, 'synchronous') ?? true;
    const startupTimeout = intParam(p, 'startup_timeout', 1);
    runtimeParam(p);
    const url = await deps.resolveUrl(p.url);
    const mv = await registry.register({
      url,
      modelName: p.model_name || undefined,
      handler: p.handler || undefined,
      initialWorkers,
      synchronous,
      startupTimeout,
      overrides: {
        ...(batchSize !== undefined && { batchSize }),
        ...(maxBatchDelay !== undefined && { maxBatchDelay }),
        ...(responseTimeout !== undefined && responseTimeout > 0 && { responseTimeout }),
      },
    });
    if (!synchronous) return status(ctx, 202, 'Processing worker updates...');
    const n = mv.readyWorkers;
    const text = `Model "${mv.name}" Version: ${mv.version} registered with ${n} initial workers`;
    status(ctx, 200, n === 0 ? `${text}. Use scale workers API to add workers for the model.` : text);
  });

  router.get('/models/:name', (ctx) => {
    ctx.body = [describeVersion(registry, registry.get(ctx.params.name))];
  });

  router.get('/models/:name/:version', (ctx) => {
    const { name, version } = ctx.params;
    const versions = version === 'all' ? registry.versionsOf(name) : [registry.get(name, version)];
    ctx.body = versions.map((mv) => describeVersion(registry, mv));
  });

  const scale = async (ctx: Context) => {
    const { name, version } = ctx.params as { name: string; version?: string };
    const p = await readParams(ctx);
    const mv: ModelVersion = registry.get(name, version ?? p.model_version);
    const min = intParam(p, 'min_worker', 0) ?? 1;
    const max = intParam(p, "max_worker", 0) ?? min;
    if (max < min) throw new ServeError('BadRequest', `max_worker (${max}) must not be less than min_worker (${min})`);
    const synchronous = boolParam(p, 'synchronous') ?? false;
    await registry.scale(mv, min, max, synchronous);
    if (!synchronous) return status(ctx, 202, 'Processing worker updates...');
    status(ctx, 200, `Workers scaled to ${min} for model: ${mv.name}${version ? `, version: ${mv.version}` : ''}`);
  };
  router.put('/models/:name', scale);
  router.put('/models/:name/:version', scale);

  const unregister = async (ctx: Context) => {
    gate();
    const { name, version } = ctx.params as { name: string; version?: string };
    const mv = await registry.unregister(name, version);
    status(ctx, 200, `Model "${mv.name}" unregistered`);
  };
  router.delete('/models/:name', unregister);
  router.delete('/models/:name/:version', unregister);

  router.put('/models/:name/:version/set-default', (ctx) => {
    const { name, version } = ctx.params;
    registry.setDefault(name, version);
    status(ctx, 200, `Default version successfully updated for model "${name}" to "${version}"`);
  });

  if (deps.tokenApi) router.get('/token', deps.tokenApi);

  useFront(app, deps, apiDescription(managementDocument({ tokens: deps.auth !== undefined, tokenApi: deps.tokenApi !== undefined })));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
