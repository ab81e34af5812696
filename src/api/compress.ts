/**
 * Response compression for inference answers, as Triton's HTTP endpoint does it: gzip or deflate when the request's
 * `Accept-Encoding` asks (`response_compression_algorithm` in Triton's clients), for JSON and binary tensor bodies
 * alike (the binary extension's header length counts the uncompressed body), via koa-compress. Bodies under 1 KiB go
 * as they are; brotli is not offered (Triton's clients do not send it).
 */
import compress from 'koa-compress';
import type { Middleware } from 'koa';

export function responseCompression(): Middleware {
  return compress({ threshold: 1024, filter: () => true, br: false }) as Middleware;
}
