/**
 * Every route of the inference and management apps, read from their routers by `routesOf` (src/api/routes.ts:
 * the TorchServe routers and the KServe v1 / OIP v2 ones alike), so a new route is covered by the auth tests
 * without editing them. The description routes (`OPTIONS /`, `GET /api-description`) are left out: they are
 * open by design, as in TorchServe, and test/api/openapi.test.ts checks that they answer without a token.
 */
import { createInferenceApp, type InferenceDeps } from '../../src/api/inference-app.ts';
import { createManagementApp, type ManagementDeps } from '../../src/api/management-app.ts';
import { DESCRIPTION_PATHS } from '../../src/api/openapi/security.ts';
import { routesOf as servedRoutes } from '../../src/api/routes.ts';
import { createLogger } from '../../src/log.ts';

export interface Route {
  method: string;
  /** With parameters filled in: models that do not exist, so that no call changes anything. */
  path: string;
}

const FILL: Record<string, string> = { model: 'absent', name: 'absent', version: '9.9' };

function fill(path: string): string {
  return path.replace(/\{([A-Za-z_]+)\}/g, (_, p: string) => FILL[p] ?? 'x');
}

function routesOf(app: Parameters<typeof servedRoutes>[0]): Route[] {
  return servedRoutes(app)
    .filter((r) => !DESCRIPTION_PATHS.includes(r.path))
    .map((r) => ({ method: r.method, path: fill(r.path) }));
}

/** Built with stand-in deps: building an app only registers routes. */
const deps = { log: createLogger('silent'), maxRequestSize: 1024, healthy: () => true, modelApi: true } as unknown;

export function inferenceRoutes(): Route[] {
  return routesOf(createInferenceApp(deps as InferenceDeps));
}

/** Without `/token`, which takes the API key and is tested on its own. */
export function managementRoutes(): Route[] {
  return routesOf(createManagementApp(deps as ManagementDeps));
}
