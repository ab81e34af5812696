/**
 * KServe's v1 protocol on the inference port: `POST /v1/models/{m}:predict` with `{"instances": [...]}`, each
 * instance one request to the model's handler (its `data` is the instance), queued and batched like any other
 * request; the answer is `{"predictions": [...]}` in instance order. One failing instance fails the call with
 * its status and `{"error": "…"}`. `GET /v1/models/{m}` tells whether the model is ready; `GET /v1/models`
 * lists the models.
 */
import { performance } from 'node:perf_hooks';
import type { Context, Middleware } from 'koa';
import Router from '@koa/router';
import { ServeError } from '../../errors.ts';
import type { JobOutcome } from '../../batching/batcher.ts';
import type { WireRequest, WireResponse } from '../../pool/messages.ts';
import { headersOf, queryOf } from '../decode.ts';
import { parseJson, readBody, requireJsonType } from '../v2/body.ts';
import { protocolMiddleware } from '../v2/errors.ts';
import { checkResponseSize } from '../../dataplane/infer.ts';
import { responseCompression } from '../compress.ts';
import { isReady } from '../../dataplane/metadata.ts';
import type { OipDeps } from '../v2/routes.ts';

/** `colors:predict` → ['colors', 'predict']; the verb follows the last colon. */
function splitVerb(segment: string): [string, string | undefined] {
  const at = segment.lastIndexOf(':');
  return at <= 0 ? [segment, undefined] : [segment.slice(0, at), segment.slice(at + 1)];
}

/** One handler result as the JSON text of a prediction: JSON as it is, text as a string, bytes as `{"b64": …}`. */
function prediction(r: WireResponse & { ok: true }): string {
  if (r.encoding === 'bytes') {
    const u8 = r.body as Uint8Array;
    return JSON.stringify({ b64: Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('base64') });
  }
  return r.encoding === 'json' ? (r.body as string) : JSON.stringify(r.body);
}

async function predict(ctx: Context, deps: OipDeps, name: string): Promise<void> {
  const started = performance.now();
  const mv = deps.registry.get(name);
  ctx.state.model = { name: mv.name, version: mv.version };
  requireJsonType(ctx);
  const body = parseJson(await readBody(ctx, deps.maxRequestSize), 'the request body') as { instances?: unknown };
  const instances = body !== null && typeof body === 'object' && !Array.isArray(body) ? body.instances : undefined;
  if (!Array.isArray(instances)) throw new ServeError('BadRequest', 'the request body must be {"instances": [...]}');
  const requestId = ctx.state.requestId as string;
  const headers = headersOf(ctx);
  const query = queryOf(ctx);
  const settled = await Promise.allSettled(
    instances.map((instance, i) => {
      deps.metrics.received(mv.name);
      const request: WireRequest = {
        requestId: instances.length === 1 ? requestId : `${requestId}-${i}`,
        data: instance as WireRequest['data'],
        body: instance as WireRequest['body'],
        fields: {},
        headers,
        query,
        contentType: 'application/json',
      };
      return mv.infer(request, []);
    }),
  );
  const outcomes: JobOutcome[] = [];
  for (const s of settled) {
    if (s.status === 'rejected') throw s.reason;
    outcomes.push(s.value);
    deps.metrics.served({ model: mv.name, version: mv.version, totalMs: performance.now() - started, outcome: s.value });
  }
  ctx.state.model.batchSize = Math.max(0, ...outcomes.map((o) => o.batchSize));
  const predictions = outcomes.map((o) => {
    if (!o.response.ok) throw ServeError.fromWire(o.response.error);
    return prediction(o.response);
  });
  const text = `{"predictions":[${predictions.join(',')}]}`;
  checkResponseSize(Buffer.byteLength(text), deps.maxResponseSize);
  ctx.type = 'application/json';
  ctx.body = text;
}

export function kserveV1(deps: OipDeps): Middleware {
  const { registry } = deps;
  const router = new Router();

  router.get('/v1/models', (ctx) => {
    ctx.body = { models: registry.list().map((mv) => mv.name) };
  });
  router.get('/v1/models/:name', (ctx) => {
    const [name, verb] = splitVerb(ctx.params.name);
    if (verb !== undefined) throw new ServeError('NotFound', `no such endpoint: GET /v1/models/${name}:${verb}`);
    const mv = registry.get(name);
    ctx.body = { name: mv.name, ready: isReady(mv) };
  });
  // path-to-regexp v8 has no literal suffix after a parameter: take the segment whole and split the verb off.
  router.post('/v1/models/:name', responseCompression(), async (ctx) => {
    const [name, verb] = splitVerb(ctx.params.name);
    if (verb !== 'predict') {
      throw new ServeError('NotFound', `no such endpoint: POST ${ctx.path}; use /v1/models/${name}:predict`);
    }
    await predict(ctx, deps, name);
  });

  const owns = (p: string) => p === '/v1' || p.startsWith('/v1/');
  // Carries its router so that src/api/routes.ts (routesOf) lists these routes with the app's others.
  return Object.assign(protocolMiddleware(router, owns, (msg, extra) => deps.log.error(extra, msg)), { router });
}
