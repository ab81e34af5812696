/**
 * v2 inference, transport-neutral: a parsed request is checked against the model, queued with its batch key,
 * run, and answered as output tensors (or a handler's own result). The REST routes (`api/v2/infer.ts`) and the
 * gRPC service both call this, so the same tensors give the same answer on either transport.
 *
 * The worker runs the model on the tensors directly, skipping the handler's hooks, unless the handler object
 * sets `acceptsV2Requests = true`: then the request goes to the handler like any other, with `data` the decoded
 * v2 request (`{id, parameters, inputs: [{name, datatype, shape, parameters}], outputs}`, the tensors beside it
 * in `v2.inputs`), and the request is not checked against the model.
 */
import { performance } from 'node:perf_hooks';
import type { SubmitOptions } from '../batching/batcher.ts';
import { ServeError } from '../errors.ts';
import type { ServerMetrics } from '../metrics/metrics.ts';
import type { WireRequest, WireResponse, WireTensor } from '../pool/messages.ts';
import { transferable } from '../pool/transfer.ts';
import type { ModelVersion } from '../registry/model-version.ts';
import type { Registry } from '../registry/registry.ts';
import type { ParsedInfer } from './request.ts';
import { classCounts, classifyOutputs } from './classification.ts';
import { queueOptions } from './queue-policy.ts';
import { batchKey, validateAgainstModel } from './validate.ts';

export interface DataPlaneDeps {
  registry: Registry;
  metrics: ServerMetrics;
  /** Bytes; a larger response is refused with a 500 that says so (TorchServe's max_response_size). */
  maxResponseSize?: number;
}

/** Who asked, as the transport saw it: passed to a handler that takes v2 requests. */
export interface CallInfo {
  requestId: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  /** performance.now() when the call arrived (before its body was read), for the request duration metrics. */
  startedAt: number;
  /** Bounds on waiting in the queue: a deadline (queue timeout, gRPC deadline) and cancellation. */
  queue?: SubmitOptions;
}

export interface ResponseHead {
  model_name: string;
  model_version: string;
  id: string;
}

/** The answer: the model's output tensors, or (for a handler that takes v2 requests) the handler's result. */
export type InferAnswer =
  | { head: ResponseHead; tensors: WireTensor[]; handlerResult?: undefined }
  | { head: ResponseHead; tensors?: undefined; handlerResult: WireResponse & { ok: true } };

/** A response body over max_response_size is a 500 that says so, as on the TorchServe routes. */
export function checkResponseSize(size: number, max: number | undefined): void {
  if (max !== undefined && size > max) {
    throw new ServeError('InternalServerError', `the response of ${size} bytes is over max_response_size (${max} bytes)`);
  }
}

/** The model version a call names (404 when unknown), counted as received. */
export function modelFor(deps: DataPlaneDeps, name: string, version: string | undefined): ModelVersion {
  const mv = deps.registry.get(name, version);
  deps.metrics.received(mv.name, version);
  return mv;
}

/** The wire request: tensors in transferred buffers, and the request JSON (without data) for a handler. */
function wireRequest(req: ParsedInfer, call: CallInfo, transfer: ArrayBuffer[]): WireRequest {
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
    requestId: call.requestId,
    data,
    body: null,
    fields: {},
    headers: call.headers,
    query: call.query,
    contentType: 'application/json',
    v2: { inputs, outputs: req.outputs?.map((o) => o.name) ?? null },
  };
}

/** Checks, queues and runs one parsed v2 request on `mv` (from modelFor); `requestedVersion` as the caller named it. */
export async function inferV2(
  deps: DataPlaneDeps,
  mv: ModelVersion,
  requestedVersion: string | undefined,
  req: ParsedInfer,
  call: CallInfo,
): Promise<InferAnswer & { batchSize: number }> {
  const io = mv.io;
  if (io && !io.acceptsV2Requests) validateAgainstModel(req, io, mv.name);
  const classes = classCounts(req);
  const transfer: ArrayBuffer[] = [];
  const queue = queueOptions(mv, req.parameters, call.queue);
  const outcome = await mv.infer(wireRequest(req, call, transfer), transfer, batchKey(req), queue);
  deps.metrics.served({
    model: mv.name,
    version: mv.version,
    requestedVersion,
    totalMs: performance.now() - call.startedAt,
    outcome,
  });
  const r = outcome.response;
  if (!r.ok) throw ServeError.fromWire(r.error);
  const head: ResponseHead = { model_name: mv.name, model_version: mv.version, id: req.id ?? call.requestId };
  if (r.tensors) return { head, tensors: classifyOutputs(r.tensors, classes, mv), batchSize: outcome.batchSize };
  return { head, handlerResult: r, batchSize: outcome.batchSize };
}
