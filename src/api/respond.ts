/** Sends one worker response: JSON, raw bytes or text, with the handler's status, type and headers. */
import type { Context } from 'koa';
import { ServeError } from '../errors.ts';
import type { WireResponse } from '../pool/messages.ts';
import { sendError } from './errors.ts';

const RESERVED = new Set(['content-length', 'transfer-encoding', 'connection', 'x-request-id']);

/**
 * Content-Type header values by the type given, as Koa's `ctx.type` setter computes them (a mime-types lookup per
 * response otherwise). Types Koa refuses are not kept: they take Koa's own path every time.
 */
const contentTypes = new Map<string, string>();
const MAX_TYPES = 64;

/** Sets the body and its type, with the header Koa's `ctx.type = type` would set. */
function typed(ctx: Context, type: string, body: string | Buffer): void {
  const header = contentTypes.get(type);
  if (header) {
    ctx.set('Content-Type', header); // before the body, so Koa does not guess a type first
    ctx.body = body;
    return;
  }
  ctx.body = body;
  ctx.type = type;
  if (contentTypes.size < MAX_TYPES) contentTypes.set(type, ctx.response.get('Content-Type'));
}

/** Refuses a response body over `max_response_size` with a 500 that says so, instead of sending it. */
function tooLarge(ctx: Context, size: number, maxBytes: number | undefined): boolean {
  if (maxBytes === undefined || size <= maxBytes) return false;
  sendError(ctx, new ServeError('InternalServerError', `the response of ${size} bytes is over max_response_size (${maxBytes} bytes)`));
  return true;
}

export function sendWireResponse(ctx: Context, r: WireResponse, maxBytes?: number): void {
  if (!r.ok) {
    sendError(ctx, ServeError.fromWire(r.error));
    return;
  }
  if (r.headers !== undefined) for (const [k, v] of Object.entries(r.headers)) if (!RESERVED.has(k)) ctx.set(k, v);
  ctx.set('Cache-Control', 'no-cache, no-store, must-revalidate');
  if (r.encoding === 'bytes') {
    const u8 = r.body as Uint8Array;
    if (tooLarge(ctx, u8.byteLength, maxBytes)) return;
    typed(ctx, r.contentType ?? 'application/octet-stream', Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength));
  } else if (r.encoding === 'text') {
    if (tooLarge(ctx, Buffer.byteLength(r.body as string), maxBytes)) return;
    typed(ctx, r.contentType ?? 'text/plain; charset=utf-8', r.body as string);
  } else {
    const text = r.body as string; // written by the worker (src/pool/json.ts)
    if (tooLarge(ctx, Buffer.byteLength(text), maxBytes)) return;
    typed(ctx, r.contentType ?? 'application/json', text);
  }
  ctx.status = r.status ?? 200;
}
