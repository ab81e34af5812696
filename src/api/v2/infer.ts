/**
 * `POST /v2/models/{m}[/versions/{v}]/infer` over HTTP: read the body, decode its framing (JSON, JSON header plus
 * binary tensors, or a raw body), hand the parsed request to the data plane (`src/dataplane/infer.ts`), and
 * write the answer as JSON or with binary outputs after the JSON header.
 */
import { performance } from 'node:perf_hooks';
import type { Context } from 'koa';
import { checkResponseSize, inferV2, modelFor, type DataPlaneDeps, type ResponseHead } from '../../dataplane/infer.ts';
import { parseInfer, type ParsedInfer } from '../../dataplane/request.ts';
import type { WireResponse } from '../../pool/messages.ts';
import { clientGone } from '../client-gone.ts';
import { headersOf, queryOf } from '../decode.ts';
import { sendWireResponse } from '../respond.ts';
import { HEADER_LENGTH, headerLength, rawRequest } from './binary.ts';
import { parseJson, readBody, requireJsonType } from './body.ts';
import { encodeResponse } from './response.ts';

export interface InferDeps extends DataPlaneDeps {
  maxRequestSize: number;
}

/** Body → parsed request: a raw body, a JSON header with binary data after it, or JSON only. */
export function decodeInfer(ctx: Context, body: Buffer, io: Parameters<typeof rawRequest>[1], model: string, reshaped = false): ParsedInfer {
  const length = headerLength(ctx.headers[HEADER_LENGTH], body.byteLength);
  if (length === 0) return rawRequest(body, io, model);
  // Inputs with a Triton reshape are spoken in the config's dims: they are checked after reshaping, in inferV2.
  const target = { name: model, io: reshaped ? null : io };
  if (length !== undefined) return parseInfer(parseJson(body.subarray(0, length), 'the JSON inference header'), body.subarray(length), target);
  requireJsonType(ctx, ', or a JSON header and binary tensors with Inference-Header-Content-Length');
  return parseInfer(parseJson(body, 'the inference request'), new Uint8Array(0), target);
}

export async function infer(ctx: Context, deps: InferDeps, name: string, version?: string): Promise<void> {
  const startedAt = performance.now();
  const mv = modelFor(deps, name, version);
  ctx.state.model = { name: mv.name, version: mv.version };
  const body = await readBody(ctx, deps.maxRequestSize);
  const req = decodeInfer(ctx, body, mv.io, mv.name, mv.triton?.config.input?.some((i) => i.reshape) === true);
  const call = { requestId: ctx.state.requestId as string, headers: headersOf(ctx), query: queryOf(ctx), startedAt, queue: { signal: clientGone(ctx) } };
  const answer = await inferV2(deps, mv, version, req, call);
  ctx.state.model.batchSize = answer.batchSize;
  if (answer.tensors) {
    const encoded = encodeResponse(answer.head, answer.tensors, req);
    checkResponseSize(Buffer.byteLength(encoded.body), deps.maxResponseSize);
    ctx.status = 200;
    ctx.body = encoded.body;
    if (encoded.headerLength === undefined) ctx.type = 'application/json';
    else {
      ctx.type = 'application/octet-stream';
      ctx.set('Inference-Header-Content-Length', String(encoded.headerLength));
    }
    return;
  }
  sendHandlerResult(ctx, answer.handlerResult, answer.head, deps.maxResponseSize);
}

/** A handler's answer to a v2 request: a JSON object gets the response head; anything else goes as it is. */
function sendHandlerResult(ctx: Context, r: WireResponse & { ok: true }, head: ResponseHead, maxBytes: number | undefined): void {
  if (r.encoding !== 'json' || !(r.body as string).startsWith('{')) {
    sendWireResponse(ctx, r, maxBytes);
    return;
  }
  const text = JSON.stringify({ ...head, ...(JSON.parse(r.body as string) as object) });
  checkResponseSize(Buffer.byteLength(text), maxBytes);
  sendWireResponse(ctx, { ...r, body: text }); // status, headers and content type as the handler set them
}
