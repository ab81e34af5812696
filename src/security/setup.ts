/**
 * Security at start, for the composition root: decides tokens (or refuses the start), writes the key file, loads
 * the TLS files, and builds the middlewares each app takes. Nothing here listens; `close()` removes the key file.
 */
import type Koa from 'koa';
import type { Middleware } from 'koa';
import { authMiddleware, tokenRoute } from '../api/auth.ts';
import { corsMiddleware } from '../api/cors.ts';
import type { ServerConfig } from '../config/config.ts';
import type { Logger } from '../log.ts';
import { securityPlan, type SecurityPlan } from './policy.ts';
import { loadTls, type TlsFiles } from './tls.ts';
import { TokenStore } from './tokens.ts';

export interface Security {
  readonly plan: SecurityPlan;
  /** Undefined when tokens are off. */
  readonly tokens?: TokenStore;
  /** Undefined when no listener uses https and gRPC does not use TLS. */
  readonly tls?: TlsFiles;
  readonly inference: { cors?: Middleware; auth?: Middleware };
  readonly management: { cors?: Middleware; auth?: Middleware; tokenApi: Middleware };
  /** Puts CORS in front of an app that takes no security deps (the metrics app, open like TorchServe's). */
  corsFirst(app: Koa): Koa;
  /** Removes the key file this start wrote. */
  close(): Promise<void>;
}

export async function setUpSecurity(config: ServerConfig, opts: { log: Logger; now?: () => number }): Promise<Security> {
  const plan = securityPlan(config); // throws first: a refused start leaves nothing behind
  const tls = loadTls(config, [config.inferenceAddress, config.managementAddress, config.metricsAddress], config.enableGrpcSsl);
  const tokens = plan.tokens
    ? await TokenStore.create({ file: config.keyFile, expirationMin: config.tokenExpirationMin, now: opts.now })
    : undefined;
  if (tokens) {
    opts.log.info(
      { keyFile: tokens.file, expirationMin: config.tokenExpirationMin, because: plan.reason },
      'token authorization is on: send "Authorization: Bearer <key>" with a key from the key file',
    );
  } else {
    opts.log.info({ because: plan.reason }, 'token authorization is off');
  }
  if (plan.warning) opts.log.warn(plan.warning);
  const cors = corsMiddleware(config);
  return {
    plan,
    tokens,
    tls,
    inference: { cors, auth: tokens && authMiddleware(tokens, 'inference') },
    management: { cors, auth: tokens && authMiddleware(tokens, 'management'), tokenApi: tokenRoute(tokens) },
    corsFirst(app) {
      if (cors) app.middleware.unshift(cors);
      return app;
    },
    close: async () => {
      await tokens?.remove();
    },
  };
}
