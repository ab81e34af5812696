/** Sends one worker response: JSON, raw bytes or text, with the handler's status, type and headers. */
import type { Context } from 'koa';
import { ServeError } from '../errors.ts';
import type { WireResponse } from '../pool/messages.ts';
import { sendError } from './errors.ts';

const RESERVED = new Set(['content-length', 'transfer-encoding', 'connection', 'x-request-id']);

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
  for (const [k, v] of Object.entries(r.headers ?? {})) if (!RESERVED.has(k)) ctx.set(k, v);
  ctx.set('Cache-Control', 'no-cache, no-store, must-revalidate');
  if (r.encoding === 'bytes') {
    const u8 = r.body as Uint8Array;
    if (tooLarge(ctx, u8.byteLength, maxBytes)) return;
    ctx.body = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
    ctx.type = r.contentType ?? 'application/octet-stream';
  } else if (r.encoding === 'text') {
    if (tooLarge(ctx, Buffer.byteLength(r.body as string), maxBytes)) return;
    ctx.body = r.body as string;
    ctx.type = r.contentType ?? 'text/plain; charset=utf-8';
  } else {
    const text = JSON.stringify(r.body);
    if (tooLarge(ctx, Buffer.byteLength(text), maxBytes)) return;
    ctx.body = text;
    ctx.type = r.contentType ?? 'application/json';
  }
  ctx.status = r.status ?? 200;
}
