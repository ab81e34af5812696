/** Runs one batch through a handler's hooks and turns what it returns into one wire response per request. */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { kindForStatus, ServeError } from '../errors.ts';
import type { Feeds, Handler, Outputs, RequestInput } from '../handler/contract.ts';
import type { BatchTimings, WireResponse } from '../pool/messages.ts';
import { jsonText } from '../pool/json.ts';
import { transferable } from '../pool/transfer.ts';
import type { WorkerContext } from './context.ts';
import { ErrorReporter } from './error-report.ts';

/** One reporter per worker context: a handler bug is logged with its stack once, not once per request. */
const reporters = new WeakMap<WorkerContext, ErrorReporter>();
export function reportHandlerBug(ctx: WorkerContext, err: unknown, label: string): void {
  if (statusOf(err) !== undefined || err instanceof ServeError) return; // the handler's own answer, not a bug
  let r = reporters.get(ctx);
  if (!r) reporters.set(ctx, (r = new ErrorReporter(ctx.logger, ctx.modelDir)));
  r.report(err, `handler ${label} failed`);
}

export interface BatchOutcome {
  responses: WireResponse[];
  timings: BatchTimings;
  /** ArrayBuffers inside `responses` that can be transferred rather than copied. */
  transfer: ArrayBuffer[];
}

export async function runBatch(
  handler: Handler,
  ctx: WorkerContext,
  requests: RequestInput[],
  label: string,
): Promise<BatchOutcome> {
  const timings: BatchTimings = { preprocessMs: 0, inferenceMs: 0, postprocessMs: 0, handlerMs: 0 };
  const t0 = performance.now();
  ctx.beginBatch();
  let results: unknown[];
  try {
    results = await callHooks(handler, ctx, requests, timings);
  } catch (err) {
    reportHandlerBug(ctx, err, label);
    const error = errorFrom(err, label);
    timings.handlerMs = performance.now() - t0;
    return { responses: requests.map(() => ({ ok: false, error })), timings, transfer: [] };
  }
  timings.handlerMs = performance.now() - t0;
  if (!Array.isArray(results) || results.length !== requests.length) {
    const got = Array.isArray(results) ? `${results.length} results` : `a ${typeof results}`;
    const error = new ServeError(
      'HandlerError',
      `handler ${label} returned ${got} for a batch of ${requests.length} requests`,
    ).toWire();
    return { responses: requests.map(() => ({ ok: false, error })), timings, transfer: [] };
  }
  const transfer: ArrayBuffer[] = [];
  const responses = results.map((r, i) => toWire(r, i, ctx, label, transfer));
  return { responses, timings, transfer };
}

async function callHooks(
  handler: Handler,
  ctx: WorkerContext,
  requests: RequestInput[],
  t: BatchTimings,
): Promise<unknown[]> {
  if (handler.handle) return handler.handle(requests, ctx);
  let mark = performance.now();
  const feeds: Feeds = handler.preprocess
    ? await handler.preprocess(requests, ctx)
    : (requests as unknown as Feeds); // no preprocess: inference() gets the requests themselves
  t.preprocessMs = performance.now() - mark;
  mark = performance.now();
  let outputs: Outputs;
  if (handler.inference) outputs = await handler.inference(feeds, ctx);
  else if (ctx.session) outputs = (await ctx.session.run(feeds)) as Outputs;
  else throw new Error('the archive has no serializedFile and the handler defines no inference()');
  t.inferenceMs = performance.now() - mark;
  mark = performance.now();
  const results = await handler.postprocess!(outputs, ctx, requests);
  t.postprocessMs = performance.now() - mark;
  return results;
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === 'number' && Number.isInteger(s) && s >= 400 && s <= 599 ? s : undefined;
}

function errorFrom(err: unknown, label: string) {
  if (err instanceof ServeError) return err.toWire();
  const status = statusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (status !== undefined) return { kind: kindForStatus(status), status, message };
  return new ServeError('HandlerError', `handler ${label} failed: ${message}`).toWire();
}

function toWire(result: unknown, index: number, ctx: WorkerContext, label: string, transfer: ArrayBuffer[]): WireResponse {
  if (result instanceof Error) {
    reportHandlerBug(ctx, result, label);
    return { ok: false, error: errorFrom(result, label) };
  }
  // Holds only what the handler set (no properties left undefined to copy across threads).
  const base = ctx.responseSettings(index) ?? {};
  if (result instanceof Uint8Array) {
    const bytes = transferable(result, transfer);
    return { ok: true, encoding: 'bytes', body: bytes, ...base };
  }
  if (typeof result === 'string') return { ok: true, encoding: 'text', body: result, ...base };
  const value = result instanceof ort.Tensor ? { shape: result.dims, datatype: result.type, data: result.data } : result;
  try {
    return { ok: true, encoding: 'json', body: jsonText(value), ...base };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, error: new ServeError('HandlerError', `handler ${label} returned a result that cannot be written as JSON: ${why}`).toWire() };
  }
}
