/**
 * Request decoding for the inference API: multipart and form bodies (koa-body/formidable, files kept in
 * memory), JSON, text, or raw bytes, into the WireRequest a worker receives. The size limit is enforced while
 * reading, so an oversize body is refused with 413 before it is read in full. Request bytes are put in shared
 * memory (one copy, where Buffer.concat would make one anyway) so workers read them in place.
 */
import { Writable } from 'node:stream';
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import type formidable from 'formidable';
import { ServeError } from '../errors.ts';
import { checkJsonDepth } from '../json-depth.ts';
import type { WireRequest, WireValue } from '../pool/messages.ts';
import { shared } from '../pool/transfer.ts';

export interface Decoded {
  request: WireRequest;
  transfer: ArrayBuffer[];
}

const FORM_TYPES = ['multipart', 'urlencoded'];

/**
 * Most fields, and most files, one form may carry. A TorchServe client sends one or a few parts (`data`, maybe
 * `body` and some fields); 10,000 tiny parts took formidable 2.5 s of the event loop to parse. Past the limit the
 * request is a 400 and parsing stops at the first part over it.
 */
export const MAX_FORM_PARTS = 128;

function isJson(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

/**
 * Builds a multipart/form parser whose files stay in memory (per-server, for its size limit). koa-body (and the
 * validation library it loads) is imported on the first form request, which keeps it off the start-up path.
 */
export function makeFormParser(maxRequestSize: number) {
  let loaded: Promise<(ctx: Context, next: () => Promise<void>) => Promise<unknown>> | undefined;
  const parser = (ctx: Context, next: () => Promise<void>) => {
    loaded ??= import('koa-body').then(({ koaBody }) => makeKoaBody(koaBody, maxRequestSize, chunks) as never);
    return loaded.then((mw) => mw(ctx, next));
  };
  const chunks = new WeakMap<object, Buffer[]>();
  const bytesOf = (file: formidable.File): Buffer => Buffer.concat(chunks.get(file) ?? []);
  return { parser, bytesOf };
}

function makeKoaBody(koaBody: typeof import('koa-body').koaBody, maxRequestSize: number, chunks: WeakMap<object, Buffer[]>) {
  return koaBody({
    multipart: true,
    urlencoded: true,
    json: false,
    text: false,
    formLimit: maxRequestSize,
    parsedMethods: ['POST', 'PUT', 'PATCH'] as never,
    formidable: {
      allowEmptyFiles: true,
      minFileSize: 0,
      maxFileSize: maxRequestSize,
      maxTotalFileSize: maxRequestSize,
      maxFieldsSize: maxRequestSize,
      maxFields: MAX_FORM_PARTS,
      maxFiles: MAX_FORM_PARTS,
      fileWriteStreamHandler: ((file: object) => {
        const parts: Buffer[] = [];
        chunks.set(file, parts);
        return new Writable({
          write(chunk: Buffer, _enc, cb) {
            parts.push(chunk);
            cb();
          },
        });
      }) as never,
    },
    onError: (err: Error) => {
      throw toServeError(err, maxRequestSize);
    },
  });
}

function toServeError(err: unknown, limit: number): ServeError {
  if (err instanceof ServeError) return err;
  const e = err as { status?: number; httpCode?: number; type?: string; message?: string; code?: number };
  const status = e.status ?? e.httpCode;
  if (/options\.max(Fields|Files) \(/.test(e.message ?? '')) {
    const what = /maxFiles/.test(e.message ?? '') ? 'files' : 'fields';
    return new ServeError('BadRequest', `the form has more than ${MAX_FORM_PARTS} ${what}; at most ${MAX_FORM_PARTS} are allowed`);
  }
  if (status === 413 || e.type === 'entity.too.large' || /maxFileSize|maxTotalFileSize|exceeded/i.test(e.message ?? '')) {
    return new ServeError('PayloadTooLarge', `request body is larger than max_request_size (${limit} bytes)`);
  }
  return new ServeError('BadRequest', `malformed request body: ${e.message ?? String(err)}`);
}

/** Request headers as plain strings (repeated ones joined). */
export function headersOf(ctx: Context): Record<string, string> {
  const out: Record<string, string> = {};
  const headers = ctx.req.headers;
  for (const k in headers) {
    const v = headers[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** Query parameters, the first value of each. */
export function queryOf(ctx: Context): Record<string, string> {
  const out: Record<string, string> = {};
  if (ctx.querystring === '') return out;
  const query = ctx.query;
  for (const k in query) {
    const v = query[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v[0] : v;
  }
  return out;
}

export async function decodeRequest(
  ctx: Context,
  requestId: string,
  form: ReturnType<typeof makeFormParser>,
  maxRequestSize: number,
): Promise<Decoded> {
  const transfer: ArrayBuffer[] = [];
  const type = (ctx.request.type || '').toLowerCase();
  const headers = headersOf(ctx);
  const query = queryOf(ctx);
  if (FORM_TYPES.some((t) => type.includes(t))) {
    await form.parser(ctx, async () => {});
    const fields: Record<string, WireValue> = {};
    const types: Record<string, string> = {};
    for (const [k, v] of Object.entries((ctx.request.body ?? {}) as Record<string, string | string[]>)) {
      fields[k] = Array.isArray(v) ? v[0] : v;
      types[k] = 'text/plain';
    }
    const files = (ctx.request.files ?? {}) as Record<string, formidable.File | formidable.File[]>;
    for (const [k, f] of Object.entries(files)) {
      const file = Array.isArray(f) ? f[0] : f;
      fields[k] = shared(form.bytesOf(file));
      types[k] = file.mimetype ?? 'application/octet-stream';
    }
    const key = 'data' in fields ? 'data' : 'body' in fields ? 'body' : Object.keys(files)[0] ?? Object.keys(fields)[0];
    const data = key === undefined ? null : fields[key];
    return {
      request: { requestId, headers, query, data, body: data, fields, contentType: key ? types[key] : type },
      transfer,
    };
  }
  let raw: Buffer;
  try {
    raw = await getRawBody(ctx.req, { limit: maxRequestSize, length: ctx.request.length });
  } catch (err) {
    throw toServeError(err, maxRequestSize);
  }
  let data: WireValue;
  if (isJson(type)) {
    if (raw.length === 0) throw new ServeError('BadRequest', 'the JSON body is empty');
    checkJsonDepth(raw, 'the JSON body');
    try {
      data = JSON.parse(raw.toString('utf8')) as WireValue;
    } catch (err) {
      throw new ServeError('BadRequest', `invalid JSON body: ${(err as Error).message}`);
    }
  } else if (type.startsWith('text/')) {
    data = raw.toString('utf8');
  } else {
    data = shared(raw);
  }
  return { request: { requestId, headers, query, data, body: data, fields: {}, contentType: type }, transfer };
}
