/**
 * Open Inference Protocol v2 requests in the worker. By default the model runs on the request's tensors
 * directly (the handler's hooks are skipped): a batch of requests whose inputs agree beyond dim 0 (the
 * batcher's key) is concatenated along dim 0, run once with the requested outputs, and split back by each
 * request's dim-0 size. Models whose dim 0 is fixed, requests whose inputs disagree on dim 0, outputs that do
 * not come back with the batch's rows, or a batch that fails as a whole run one request at a time instead, so
 * one bad request fails alone. A handler object with `acceptsV2Requests = true` gets the requests instead,
 * with `data` the decoded v2 request (see src/api/v2/infer.ts).
 */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { ServeError, type WireError } from '../errors.ts';
import type { Handler, RequestInput } from '../handler/contract.ts';
import type { WireRequest, WireResponse, WireTensor, WireV2Request } from '../pool/messages.ts';
import type { WorkerContext } from './context.ts';
import { runBatch, type BatchOutcome } from './run-batch.ts';
import { toRequestInput } from './wire.ts';
import { packBytes } from '../pool/bytes.ts';

type Numeric = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | BigInt64Array | BigUint64Array | Float32Array | Float64Array;
type ArrayCtor = { new (n: number): Numeric; new (b: ArrayBufferLike, o: number, n: number): Numeric; BYTES_PER_ELEMENT: number };
type Data = Numeric | string[];

const ARRAYS: Record<string, ArrayCtor> = {
  bool: Uint8Array, uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array,
  int32: Int32Array, uint64: BigUint64Array, int64: BigInt64Array, float16: Uint16Array, float32: Float32Array, float64: Float64Array,
};

/** A failing run is answered to its client; onnxruntime need not also print it on stderr. */
const RUN_OPTIONS: ort.InferenceSession.RunOptions = { logSeverityLevel: 4 };

export function acceptsV2Requests(handler: Handler): boolean {
  return (handler as { acceptsV2Requests?: unknown }).acceptsV2Requests === true;
}

/** Runs a batch of v2 requests: through the handler when it takes them, else on the session directly. */
export async function runV2Batch(handler: Handler, ctx: WorkerContext, requests: WireRequest[], label: string): Promise<BatchOutcome> {
  if (acceptsV2Requests(handler)) return runBatch(handler, ctx, requests.map(toHandlerInput), label);
  const started = performance.now();
  const transfer: ArrayBuffer[] = [];
  const responses = await runDirect(ctx, requests, transfer);
  const ms = performance.now() - started;
  return { responses, transfer, timings: { preprocessMs: 0, inferenceMs: ms, postprocessMs: 0, handlerMs: ms } };
}

function fail(err: unknown, model: string): WireResponse {
  if (err instanceof ServeError) return { ok: false, error: err.toWire() };
  const message = err instanceof Error ? err.message : String(err);
  const kind = /invalid|unexpected input|got:/i.test(message) ? 'BadRequest' : 'InternalServerError';
  const error: WireError = new ServeError(kind, `model "${model}" could not run the request: ${message}`).toWire();
  return { ok: false, error };
}

async function runDirect(ctx: WorkerContext, requests: WireRequest[], transfer: ArrayBuffer[]): Promise<WireResponse[]> {
  const session = ctx.session;
  if (!session) {
    const e = new ServeError(
      'HandlerError',
      `model "${ctx.modelName}" has no serializedFile to run v2 requests on, and its handler does not set acceptsV2Requests`,
      { status: 501 },
    );
    return requests.map(() => fail(e, ctx.modelName));
  }
  const tasks = requests.map((r) => r.v2);
  if (tasks.some((t) => t === undefined)) {
    return requests.map(() => fail(new ServeError('InternalServerError', 'a v2 batch holds a request that is not v2'), ctx.modelName));
  }
  const v2 = tasks as WireV2Request[];
  if (v2.length > 1 && batchable(session, v2)) {
    try {
      const out = await runOnce(session, v2, transfer);
      if (out) return out;
    } catch {
      // Some request spoils the batch: run them one by one below, so only that one fails.
    }
  }
  const responses: WireResponse[] = [];
  for (const t of v2) {
    try {
      responses.push((await runOnce(session, [t], transfer))![0]);
    } catch (err) {
      responses.push(fail(err, ctx.modelName));
    }
  }
  return responses;
}

const rowsOf = (t: WireV2Request): number => t.inputs[0]?.shape[0] ?? 0;

/** Concatenation along dim 0 is sound: the model's inputs and outputs have a free dim 0 and each request one batch size. */
function batchable(session: ort.InferenceSession, tasks: WireV2Request[]): boolean {
  const free = (m: ort.InferenceSession.ValueMetadata | undefined) => !!m?.isTensor && m.shape.length > 0 && typeof m.shape[0] !== 'number';
  const inputs = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const outputs = new Map(session.outputMetadata.map((m) => [m.name, m]));
  const fetches = tasks[0].outputs ?? session.outputNames;
  if (!fetches.every((n) => free(outputs.get(n)))) return false;
  return tasks.every((t) => t.inputs.every((i) => i.shape.length > 0 && i.shape[0] === rowsOf(t) && free(inputs.get(i.name))));
}

/** Runs the tasks as one batch; null when an output does not come back with the batch's rows. */
async function runOnce(session: ort.InferenceSession, tasks: WireV2Request[], transfer: ArrayBuffer[]): Promise<WireResponse[] | null> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, first] of tasks[0].inputs.entries()) {
    const parts = tasks.map((t) => t.inputs[k]);
    const shape = tasks.length === 1 ? first.shape : [parts.reduce((n, p) => n + p.shape[0], 0), ...first.shape.slice(1)];
    feeds[first.name] = new ort.Tensor(first.type as 'float32', concat(first.type, parts.map(dataOf)) as Float32Array, shape);
  }
  const fetches = tasks[0].outputs ?? session.outputNames;
  const results = await session.run(feeds, fetches, RUN_OPTIONS);
  const ok = (tensors: WireTensor[]): WireResponse => ({ ok: true, encoding: 'json', body: 'null', tensors });
  if (tasks.length === 1) return [ok(fetches.map((n) => slice(n, results[n], 0, null, transfer)))];
  const total = tasks.reduce((n, t) => n + rowsOf(t), 0);
  if (fetches.some((n) => results[n].dims[0] !== total)) return null;
  let start = 0;
  return tasks.map((t) => {
    const rows = rowsOf(t);
    const tensors = fetches.map((n) => slice(n, results[n], start, rows, transfer));
    start += rows;
    return ok(tensors);
  });
}

function dataOf(t: WireTensor): Data {
  if (t.type === 'string') return unpack(t.data).map((e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('utf8'));
  const C = ARRAYS[t.type];
  if (!C) throw new ServeError('BadRequest', `input "${t.name}": element type ${t.type} is not supported`);
  const bytes = t.data.byteOffset % C.BYTES_PER_ELEMENT === 0 ? t.data : t.data.slice();
  return new C(bytes.buffer, bytes.byteOffset, bytes.byteLength / C.BYTES_PER_ELEMENT);
}

function concat(type: string, parts: Data[]): Data {
  if (parts.length === 1) return parts[0];
  if (type === 'string') return (parts as string[][]).flat();
  const out = new ARRAYS[type](parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts as Numeric[]) {
    (out as Float32Array).set(p as Float32Array, at);
    at += p.length;
  }
  return out;
}

/** Rows [start, start + rows) of an output (the whole tensor when rows is null), as bytes in a buffer of their own. */
function slice(name: string, t: ort.Tensor, start: number, rows: number | null, transfer: ArrayBuffer[]): WireTensor {
  const dims = t.dims.map(Number);
  const shape = rows === null ? dims : [rows, ...dims.slice(1)];
  const per = rows === null ? 1 : dims.slice(1).reduce((a, b) => a * b, 1);
  const from = start * per;
  const count = rows === null ? t.size : rows * per;
  let bytes: Uint8Array;
  if (t.type === 'string') {
    bytes = packBytes((t.data as string[]).slice(from, from + count).map((s) => Buffer.from(s, 'utf8')));
  } else {
    const d = t.data as Numeric;
    const size = d.BYTES_PER_ELEMENT;
    bytes = new Uint8Array(d.buffer, d.byteOffset + from * size, count * size).slice();
  }
  transfer.push(bytes.buffer as ArrayBuffer);
  return { name, type: t.type, shape, data: bytes };
}


function unpack(data: Uint8Array): Uint8Array[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at + 4 <= data.byteLength; ) {
    const n = view.getUint32(at, true);
    out.push(data.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

/** The RequestInput a handler with acceptsV2Requests sees: `data` is the request with each input's data decoded. */
function toHandlerInput(w: WireRequest): RequestInput {
  const base = toRequestInput(w);
  if (!w.v2) return base;
  const header = w.data as { inputs?: Array<Record<string, unknown>> };
  const inputs = w.v2.inputs.map((t, i) => ({
    ...(header.inputs?.[i] ?? { name: t.name, datatype: t.datatype, shape: t.shape }),
    data: t.type === 'string' ? unpack(t.data).map((e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength)) : dataOf(t),
  }));
  const data = { ...header, inputs };
  return { ...base, data, body: data };
}
