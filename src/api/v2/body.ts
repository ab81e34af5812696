/**
 * Reading v1/v2 request bodies: raw bytes within max_request_size, and JSON with a 400 that says what is wrong.
 * A `Content-Encoding: gzip` or `deflate` body (Triton's clients compress with `request_compression_algorithm`) is
 * inflated with `inflation` as it is read; the limit applies to the inflated bytes, so a small bomb stops there.
 */
import inflate from 'inflation';
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { ServeError } from '../../errors.ts';

export async function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const encoding = (ctx.get('content-encoding') || 'identity').trim().toLowerCase();
  try {
    if (encoding === 'identity') return await getRawBody(ctx.req, { limit, length: ctx.request.length });
    if (encoding !== 'gzip' && encoding !== 'deflate') {
      throw new ServeError('UnsupportedMediaType', `Content-Encoding "${encoding}" is not supported: send gzip, deflate or identity`);
    }
    return await getRawBody(inflate(ctx.req), { limit });
  } catch (err) {
    if (err instanceof ServeError) throw err;
    const e = err as { status?: number; type?: string; message?: string; code?: string };
    if (e.status === 413 || e.type === 'entity.too.large') {
      throw new ServeError('PayloadTooLarge', `request body is larger than max_request_size (${limit} bytes)${encoding === 'identity' ? '' : ' once inflated'}`);
    }
    if (e.code?.startsWith('Z_')) {
      throw new ServeError('BadRequest', `the request body is not valid ${encoding} data: ${e.message}`);
    }
    throw new ServeError('BadRequest', `could not read the request body: ${e.message ?? String(err)}`);
  }
}

/** Parses JSON text; `what` names it in the error. */
export function parseJson(bytes: Uint8Array, what: string): unknown {
  if (bytes.byteLength === 0) throw new ServeError('BadRequest', `${what} is empty`);
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new ServeError('BadRequest', `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** A JSON body that may be absent (then undefined). */
export async function readOptionalJson(ctx: Context, limit: number): Promise<unknown> {
  const body = await readBody(ctx, limit);
  return body.byteLength === 0 ? undefined : parseJson(body, 'the request body');
}

/**
 * Refuses a body whose content type says it is not JSON (415). No type, text/plain and curl's default for `-d`
 * (application/x-www-form-urlencoded) are read as JSON, as Triton and KServe do.
 */
export function requireJsonType(ctx: Context, alternative = ''): void {
  const type = (ctx.request.type || '').toLowerCase();
  const lenient = type === '' || type === 'text/plain' || type === 'application/x-www-form-urlencoded';
  if (!lenient && type !== 'application/json' && !type.endsWith('+json')) {
    throw new ServeError('UnsupportedMediaType', `content type "${type}" is not supported here: send application/json${alternative}`);
  }
}
