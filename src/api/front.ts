/**
 * The middleware every API app starts with, in this order: access log with the response-class metrics, request id,
 * CORS, the app's OpenAPI description (open, before the token check, as TorchServe), the token check, and the
 * one error-to-response mapping.
 */
import type Koa from 'koa';
import type { Middleware } from 'koa';
import type { Logger } from '../log.ts';
import type { ServerMetrics } from '../metrics/metrics.ts';
import { accessLog } from './access-log.ts';
import { errorMiddleware } from './errors.ts';
import { requestIdMiddleware } from './request-id.ts';

export interface FrontDeps {
  log: Logger;
  metrics: ServerMetrics;
  cors?: Middleware;
  auth?: Middleware;
}

export function useFront(app: Koa, deps: FrontDeps, description: Middleware): void {
  // Errors Koa sees outside the middleware (a client that broke its request or left mid-answer) are the client's:
  // logged at debug level as JSON, instead of Koa's default stack trace on stderr for each one.
  app.on('error', (err: Error & { code?: string }) => deps.log.debug({ error: err.message, code: err.code }, 'client connection error'));
  app.use(accessLog(deps.log, (status) => deps.metrics.response(status))); // and the response-class metrics
  app.use(requestIdMiddleware);
  if (deps.cors) app.use(deps.cors);
  app.use(description);
  if (deps.auth) app.use(deps.auth);
  app.use(errorMiddleware((msg, extra) => deps.log.error(extra, msg)));
}
