/**
 * The routes a Koa app serves, read from the @koa/router instances on its middleware stack: `router.routes()`
 * carries its router, and the wrapping middlewares (KServe v1, OIP v2, the descriptions) carry theirs as
 * `.router`. Paths come in OpenAPI form (`:name` → `{name}`), so they compare with the OpenAPI documents.
 */
import type Koa from 'koa';

export interface RouteEntry {
  /** Upper case; HEAD (which every GET route also answers) is left out. */
  method: string;
  /** OpenAPI form: `/models/{name}/{version}`. */
  path: string;
}

interface RouterLike {
  stack: { methods: string[]; path: string | RegExp }[];
}

/**
 * Routes whose path their handler parses further: KServe v1 takes the `{name}:predict` segment whole (its
 * router's path syntax has no literal after a parameter) and answers only `:predict` (src/api/v1/routes.ts).
 */
const HAND_PARSED: Readonly<Record<string, string>> = { 'POST /v1/models/{name}': '/v1/models/{name}:predict' };

/** `:param` (path-to-regexp) → `{param}` (OpenAPI). */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

export function routesOf(app: Koa): RouteEntry[] {
  const out: RouteEntry[] = [];
  const seen = new Set<string>();
  for (const mw of app.middleware as unknown[]) {
    const router = (mw as { router?: RouterLike }).router;
    for (const layer of router?.stack ?? []) {
      if (typeof layer.path !== 'string') continue;
      for (const method of layer.methods) {
        if (method === 'HEAD') continue;
        const plain = openApiPath(layer.path);
        const path = HAND_PARSED[`${method} ${plain}`] ?? plain;
        const key = `${method} ${path}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ method, path });
      }
    }
  }
  return out;
}
