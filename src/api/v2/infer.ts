/**
 * `POST /v2/models/{m}[/versions/{v}]/infer`: decode (JSON, binary, or raw), check against the model, queue
 * with the batch key (same inputs, datatypes, shapes beyond dim 0 and outputs share a batch), and answer.
 *
 * The worker runs the model on the tensors directly, skipping the handler's hooks, unless the handler object
 * sets `acceptsV2Requests = true`: then the request goes to the handler like any other, with `data` the decoded
 * v2 request (`{id, parameters, inputs: [{name, datatype, shape, parameters, data}], outputs}`, each `data` a
 * flat typed array as onnxruntime takes it — FP16 as Uint16Array bits, BOOL as Uint8Array — and BYTES as an
 * array of Buffers), and the API does not check the request against the model. A handler's plain-object
 * result is sent as JSON with `model_name`, `model_version` and `id` filled in.
 */
import { performance } from 'node:perf_hooks';
import type { Context } from 'koa';
import { ServeError } from '../../errors.ts';
import type { ServerMetrics } from '../../metrics/metrics.ts';
import type { WireRequest, WireResponse, WireTensor } from '../../pool/messages.ts';
import { transferable } from '../../pool/transfer.ts';
import type { Registry } from '../../registry/registry.ts';
import { headersOf, queryOf } from '../decode.ts';
import { sendWireResponse } from '../respond.ts';
import { HEADER_LENGTH, headerLength, rawRequest } from './binary.ts';
import { parseJson, readBody, requireJsonType } from './body.ts';
import { parseInfer, type ParsedInfer } from './request.ts';
import { encodeResponse, type ResponseHead } from './response.ts';
import { batchKey, validateAgainstModel } from './validate.ts';

export interface InferDeps {
  registry: Registry;
  metrics: ServerMetrics;
  maxRequestSize: number;
  maxResponseSize?: number;
}

/** A response body over max_response_size is a 500 that says so, as on the TorchServe routes. */
export function checkResponseSize(size: number, max: number | undefined): void {
  if (max !== undefined && size > max) {
    throw new ServeError('InternalServerError', `the response of ${size} bytes is over max_response_size (${max} bytes)`);
  }
}

/** Body → parsed request: a raw body, a JSON header with binary data after it, or JSON only. */
export function decodeInfer(ctx: Context, body: Buffer, io: Parameters<typeof rawRequest>[1], model: string): ParsedInfer {
  const length = headerLength(ctx.headers[HEADER_LENGTH], body.byteLength);
  if (length === 0) return rawRequest(body, io, model);
  if (length !== undefined) return parseInfer(parseJson(body.subarray(0, length), 'the JSON inference header'), body.subarray(length));
  requireJsonType(ctx, ', or a JSON header and binary tensors with Inference-Header-Content-Length');
  return parseInfer(parseJson(body, 'the inference request'), new Uint8Array(0));
}

/** The wire request: tensors in transferred buffers, and the request JSON (without data) for a handler. */
function wireRequest(ctx: Context, req: ParsedInfer, transfer: ArrayBuffer[]): WireRequest {
  const inputs: WireTensor[] = req.inputs.map((i) => ({
    name: i.name,
    type: i.dt.ort,
    datatype: i.datatype,
    shape: i.shape,
    data: transferable(i.data, transfer),
  }));
  const data = {
    id: req.id,
    parameters: req.parameters,
    inputs: req.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, parameters: i.parameters })),
    outputs: req.outputs?.map((o) => ({ name: o.name, parameters: o.parameters })),
  };
  return {
    requestId: ctx.state.requestId as string,
    data,
    body: null,
    fields: {},
    headers: headersOf(ctx),
    query: queryOf(ctx),
    contentType: 'application/json',
    v2: { inputs, outputs: req.outputs?.map((o) => o.name) ?? null },
  };
}

export async function infer(ctx: Context, deps: InferDeps, name: string, version?: string): Promise<void> {
  const started = performance.now();
  const mv = deps.registry.get(name, version);
  ctx.state.model = { name: mv.name, version: mv.version };
  deps.metrics.received(mv.name, version);
  const body = await readBody(ctx, deps.maxRequestSize);
  const io = mv.io;
  const req = decodeInfer(ctx, body, io, mv.name);
  if (io && !io.acceptsV2Requests) validateAgainstModel(req, io, mv.name);
  const transfer: ArrayBuffer[] = [];
  const outcome = await mv.infer(wireRequest(ctx, req, transfer), transfer, batchKey(req));
  ctx.state.model.batchSize = outcome.batchSize;
  deps.metrics.served({ model: mv.name, version: mv.version, requestedVersion: version, totalMs: performance.now() - started, outcome });
  const r = outcome.response;
  if (!r.ok) throw ServeError.fromWire(r.error);
  const head: ResponseHead = { model_name: mv.name, model_version: mv.version, id: req.id ?? (ctx.state.requestId as string) };
  if (r.tensors) {
    const encoded = encodeResponse(head, r.tensors, req);
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
  sendHandlerResult(ctx, r, head, deps.maxResponseSize);
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
