/**
 * Token authorization for the inference and management apps (`Authorization: Bearer <key>`), and TorchServe's
 * `GET /token?type=management|inference` that replaces a key. A missing, wrong or expired token is a 401 with
 * `WWW-Authenticate: Bearer` (TorchServe answers 400), in the error shape of the path's protocol.
 *
 * Open without a token: `/ping`, `/v2/health/live` and `/v2/health/ready` (health probes; they tell nothing but
 * up or ready), and the API descriptions, which the apps answer before this check (as TorchServe does). Everything else, including unknown paths, needs the key of the app's API; on the management port
 * `/token` needs the API key instead.
 */
import type { Context, Middleware, Next } from 'koa';
import { ServeError } from '../errors.ts';
import type { KeyKind, TokenStore } from '../security/tokens.ts';
import { errorBody } from './errors.ts';

export type Api = 'inference' | 'management';

/** Paths answered without a token, by API. */
export const OPEN_PATHS: Readonly<Record<Api, readonly string[]>> = Object.freeze({
  inference: Object.freeze(['/ping', '/v2/health/live', '/v2/health/ready']),
  management: Object.freeze([]),
});

const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;

/** The bearer token of a request: undefined when none was sent, '' when the header is not a bearer token. */
export function bearerToken(ctx: Context): string | undefined {
  const header = ctx.get('authorization');
  if (header === '') return undefined;
  return BEARER.exec(header)?.[1] ?? '';
}

/** The key a request must present, or undefined when the path is open. */
export function keyFor(api: Api, path: string): KeyKind | undefined {
  if (OPEN_PATHS[api].includes(path)) return undefined;
  return api === 'management' && path === '/token' ? 'API' : api;
}

const oip = (path: string) => /^\/v[12](\/|$)/.test(path);

function refuse(ctx: Context, kind: KeyKind, reason: 'missing' | 'wrong' | 'expired', expiredAt?: number): void {
  const which = kind === 'API' ? 'the API key' : `the ${kind} key`;
  const message =
    reason === 'missing'
      ? `token authorization is on: send "Authorization: Bearer <key>" with ${which} from the key file`
      : reason === 'wrong'
        ? `the token is not ${which}: send "Authorization: Bearer <key>" with ${which} from the key file`
        : `${which} expired at ${new Date(expiredAt!).toISOString()}: get a new one with GET /token?type=${kind} on the management API (authorised with the API key)`;
  const err = new ServeError('Unauthorized', message);
  ctx.status = 401;
  ctx.set('WWW-Authenticate', reason === 'missing' ? 'Bearer realm="modelserver"' : 'Bearer realm="modelserver", error="invalid_token"');
  ctx.body = oip(ctx.path) ? { error: message } : { ...errorBody(err), type: 'InvalidKeyException' };
}

/** The token check for one API's app; the app mounts it right after the request-id middleware. */
export function authMiddleware(tokens: TokenStore, api: Api): Middleware {
  return async (ctx: Context, next: Next): Promise<void> => {
    const kind = keyFor(api, ctx.path);
    if (kind === undefined) return next();
    const verdict = tokens.verify(kind, bearerToken(ctx));
    if (!verdict.ok) return refuse(ctx, kind, verdict.reason, verdict.expiredAt);
    await next();
  };
}

/**
 * `GET /token?type=management|inference`: replaces that key (file and memory) and answers it in the key file's
 * shape, `{"management": {"key": "…", "expiration time": "…"}}`. Without tokens there are no keys: 404.
 */
export function tokenRoute(tokens: TokenStore | undefined): Middleware {
  return async (ctx: Context): Promise<void> => {
    if (!tokens) {
      throw new ServeError('NotFound', 'token authorization is off (see disable_token_authorization): there are no keys to replace');
    }
    const type = ctx.query.type;
    if (type !== 'management' && type !== 'inference') {
      throw new ServeError('BadRequest', `parameter type must be "management" or "inference" (got ${JSON.stringify(type ?? null)})`);
    }
    const entry = await tokens.replace(type);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { [type]: { key: entry.key, 'expiration time': new Date(entry.expiresAt!).toISOString() } };
  };
}
