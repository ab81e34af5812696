/** Management parameters from the query string or a JSON body, validated with messages naming the parameter. */
import type { Context } from 'koa';
import inflate from 'inflation';
import getRawBody from 'raw-body';
import { ServeError } from '../errors.ts';
import { checkJsonDepth } from '../json-depth.ts';

export type Params = Record<string, string>;

/** Query parameters merged with a JSON object body (query wins, as TorchServe reads the query first). */
export async function readParams(ctx: Context): Promise<Params> {
  const out: Params = {};
  // A body is there when it has a length or is chunked (then Content-Length is absent).
  const hasBody = !!ctx.request.length || ctx.get('transfer-encoding') !== '';
  if (hasBody && !/json|urlencoded/.test(ctx.request.type)) {
    throw new ServeError('UnsupportedMediaType', `unsupported content type "${ctx.request.type}": send parameters in the query string or as a JSON object`);
  }
  if (hasBody && /json/.test(ctx.request.type)) {
    let body: unknown;
    const raw = await readLimited(ctx);
    if (raw.length === 0) return queryParams(ctx, out);
    checkJsonDepth(raw, 'the JSON body');
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new ServeError('BadRequest', `invalid JSON body: ${(err as Error).message}`);
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new ServeError('BadRequest', 'the JSON body must be an object of parameters');
    }
    for (const [k, v] of Object.entries(body)) if (v !== null && v !== undefined) out[k] = String(v);
  }
  if (hasBody && /urlencoded/.test(ctx.request.type)) {
    const text = (await readLimited(ctx)).toString('utf8');
    for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  }
  return queryParams(ctx, out);
}

function queryParams(ctx: Context, out: Params): Params {
  for (const [k, v] of Object.entries(ctx.query)) if (v !== undefined) out[k] = Array.isArray(v) ? v[0] : v;
  return out;
}

/** Largest management body (parameters only; archives come by URL or from the model store). */
const MAX_PARAMS_BODY = 1024 * 1024;

/**
 * The body within MAX_PARAMS_BODY. `gzip` and `deflate` bodies are inflated as they are read (as on the v2 routes)
 * and the limit applies to the inflated bytes; any other content coding is a 415 rather than being read as if it
 * were plain text.
 */
async function readLimited(ctx: Context): Promise<Buffer> {
  const coding = (ctx.get('content-encoding') || 'identity').trim().toLowerCase();
  if (coding !== 'identity' && coding !== 'gzip' && coding !== 'deflate') {
    throw new ServeError('UnsupportedMediaType', `Content-Encoding "${coding}" is not supported for management requests: send gzip, deflate or identity`);
  }
  try {
    if (coding === 'identity') return await getRawBody(ctx.req, { limit: MAX_PARAMS_BODY, length: ctx.request.length });
    return await getRawBody(inflate(ctx.req), { limit: MAX_PARAMS_BODY });
  } catch (err) {
    const e = err as { status?: number; type?: string; message?: string; code?: string };
    if (e.status === 413 || e.type === 'entity.too.large') {
      throw new ServeError('PayloadTooLarge', `the management request body is larger than ${MAX_PARAMS_BODY} bytes${coding === 'identity' ? '' : ' once inflated'}`);
    }
    if (e.code?.startsWith('Z_')) throw new ServeError('BadRequest', `the request body is not valid ${coding} data: ${e.message}`);
    throw new ServeError('BadRequest', `could not read the request body: ${e.message ?? String(err)}`);
  }
}

export function intParam(p: Params, name: string, min = 0): number | undefined {
  const s = p[name];
  if (s === undefined || s === '') return undefined;
  if (!/^-?\d+$/.test(s.trim())) throw new ServeError('BadRequest', `parameter ${name} = "${s}" is not a number`);
  const n = Number(s);
  if (n < min) throw new ServeError('BadRequest', `parameter ${name} = "${s}" is not allowed: expected an integer ≥ ${min}`);
  return n;
}

export function boolParam(p: Params, name: string): boolean | undefined {
  const s = p[name];
  if (s === undefined || s === '') return undefined;
  const v = s.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ServeError('BadRequest', `parameter ${name} = "${s}" is not allowed: expected true or false`);
}
