/**
 * Every route of the inference and management apps, read from their routers (so a new route is covered by the
 * auth tests without editing them), plus the KServe v1 / OIP v2 routes, whose routers sit inside a wrapping
 * middleware and are listed here by hand.
 */
import type Koa from 'koa';
import { createInferenceApp, type InferenceDeps } from '../../src/api/inference-app.ts';
import { createManagementApp, type ManagementDeps } from '../../src/api/management-app.ts';
import { createLogger } from '../../src/log.ts';

export interface Route {
  method: string;
  /** With parameters filled in: models that do not exist, so that no call changes anything. */
  path: string;
}

interface Layer {
  methods: string[];
  path: string;
}

const FILL: Record<string, string> = { model: 'absent', name: 'absent', version: '9.9' };

function fill(path: string): string {
  return path.replace(/:([A-Za-z_]+)/g, (_, p: string) => FILL[p] ?? 'x');
}

/** The routes of every @koa/router mounted on an app (`router.routes()` carries its router). */
export function routesOf(app: Koa): Route[] {
  const out: Route[] = [];
  for (const mw of app.middleware as unknown[]) {
    const router = (mw as { router?: { stack: Layer[] } }).router;
    for (const layer of router?.stack ?? []) {
      for (const method of layer.methods) if (method !== 'HEAD') out.push({ method, path: fill(layer.path) });
    }
  }
  return out;
}

/** Built with stand-in deps: building an app only registers routes. */
const deps = { log: createLogger('silent'), maxRequestSize: 1024, healthy: () => true, modelApi: true } as unknown;

export const PROTOCOL_ROUTES: readonly Route[] = [
  { method: 'GET', path: '/v1/models' },
  { method: 'GET', path: '/v1/models/absent' },
  { method: 'POST', path: '/v1/models/absent:predict' },
  { method: 'GET', path: '/v2' },
  { method: 'GET', path: '/v2/health/live' },
  { method: 'GET', path: '/v2/health/ready' },
  { method: 'GET', path: '/v2/models/absent' },
  { method: 'GET', path: '/v2/models/absent/ready' },
  { method: 'POST', path: '/v2/models/absent/infer' },
  { method: 'GET', path: '/v2/models/absent/versions/9.9' },
  { method: 'POST', path: '/v2/models/absent/versions/9.9/infer' },
  { method: 'POST', path: '/v2/repository/index' },
  { method: 'POST', path: '/v2/repository/models/absent/load' },
  { method: 'POST', path: '/v2/repository/models/absent/unload' },
];

export function inferenceRoutes(): Route[] {
  return [...routesOf(createInferenceApp(deps as InferenceDeps)), ...PROTOCOL_ROUTES];
}

/** Without `/token`, which takes the API key and is tested on its own. */
export function managementRoutes(): Route[] {
  return routesOf(createManagementApp(deps as ManagementDeps));
}
