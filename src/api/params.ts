/** Management parameters from the query string or a JSON body, validated with messages naming the parameter. */
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { ServeError } from '../errors.ts';

export type Params = Record<string, string>;

/** Query parameters merged with a JSON object body (query wins, as TorchServe reads the query first). */
export async function readParams(ctx: Context): Promise<Params> {
  const out: Params = {};
  if (ctx.request.length && !/json|urlencoded/.test(ctx.request.type)) {
    throw new ServeError('UnsupportedMediaType', `unsupported content type "${ctx.request.type}": send parameters in the query string or as a JSON object`);
  }
  if (ctx.request.length && /json/.test(ctx.request.type)) {
    let body: unknown;
    try {
      body = JSON.parse((await getRawBody(ctx.req, { limit: 1024 * 1024, length: ctx.request.length })).toString('utf8'));
    } catch (err) {
      throw new ServeError('BadRequest', `invalid JSON body: ${(err as Error).message}`);
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new ServeError('BadRequest', 'the JSON body must be an object of parameters');
    }
    for (const [k, v] of Object.entries(body)) if (v !== null && v !== undefined) out[k] = String(v);
  }
  if (ctx.request.length && /urlencoded/.test(ctx.request.type)) {
    const text = (await getRawBody(ctx.req, { limit: 1024 * 1024, length: ctx.request.length })).toString('utf8');
    for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  }
  for (const [k, v] of Object.entries(ctx.query)) if (v !== undefined) out[k] = Array.isArray(v) ? v[0] : v;
  return out;
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

/** TorchServe's `runtime`: validated (TorchServe answers 400 for an unknown one); `node` is the only runtime here. */
export function runtimeParam(p: Params): void {
  const s = p.runtime;
  if (s === undefined || s === '' || s.trim().toLowerCase() === 'node') return;
  const python = /^python\d*$/i.test(s.trim()) ? ' (TorchServe\'s python runtime runs Python handlers; handlers here are ES modules)' : '';
  throw new ServeError('BadRequest', `parameter runtime = "${s}" is not allowed: the only runtime is "node"${python}; leave runtime out`);
}
