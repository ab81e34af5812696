/**
 * The Piscina worker module. At start it loads the handler and the model's session once, reports `ready` (or
 * `failed`, with the reason) on the pool's BroadcastChannel, then runs one batch per task.
 * Never imports Koa, config or the registry.
 */
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { ServeError, type WireError } from '../errors.ts';
import type { Handler } from '../handler/contract.ts';
import type { InferenceSession } from 'onnxruntime-node';
import type { BatchResult, BatchTask, ModelIO, TensorInfo, WorkerEvent, WorkerInit } from '../pool/messages.ts';
import path from 'node:path';
import { makeLogger, WorkerContext } from './context.ts';
import { ErrorReporter, locate, syntaxErrorAt } from './error-report.ts';
import { isBuiltinHandler } from '../handler/builtins.ts';
import { loadHandler } from './load-handler.ts';
import { runBatch } from './run-batch.ts';
import { acceptsV2Requests, runV2Batch } from './tensors.ts';
import { createSession } from './session.ts';
import { toRequestInput } from './wire.ts';

const init = workerData as WorkerInit;
const workerId = Atomics.add(new Int32Array(init.idCounter), 0, 1);
const channel = new BroadcastChannel(init.channel);
channel.unref();
const post = (e: WorkerEvent) => channel.postMessage(e);
const label = `"${init.handler}" of model "${init.modelName}"`;

interface Loaded {
  handler: Handler;
  ctx: WorkerContext;
}

async function load(): Promise<Loaded> {
  const started = performance.now();
  const budget = { intraOpThreads: init.intraOpThreads, device: init.device, cpuMemArena: init.modelConfig.cpuMemArena === true };
  const serialized = init.manifest.model.serializedFile;
  const session = serialized ? await createSession(init.modelDir, serialized, budget) : null;
  const ctx = new WorkerContext({
    modelName: init.modelName,
    modelVersion: init.modelVersion,
    modelDir: init.modelDir,
    manifest: init.manifest,
    modelConfig: init.modelConfig,
    batchSize: init.batchSize,
    workerId,
    budget,
    session,
    emitMetric: (metric) => post({ type: 'metric', workerId, metric }),
  });
  const handler = await loadHandler({
    handler: init.handler,
    modelDir: init.modelDir,
    builtinDir: init.builtinDir,
    builtinExt: init.builtinExt,
  });
  if (handler.initialize) await handler.initialize(ctx);
  post({
    type: 'ready',
    workerId,
    threadId,
    startTime: new Date().toISOString(),
    loadMs: performance.now() - started,
    io: session ? { ...modelIO(session), ...(acceptsV2Requests(handler) ? { acceptsV2Requests: true } : {}) } : null,
  });
  return { handler, ctx };
}

function modelIO(session: InferenceSession): ModelIO {
  const info = (m: InferenceSession.ValueMetadata): TensorInfo =>
    m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: '', shape: [] };
  return { inputs: session.inputMetadata.map(info), outputs: session.outputMetadata.map(info) };
}

/** The handler's file in the model folder, when it is not a built-in. */
function handlerFile(): string | undefined {
  if (isBuiltinHandler(init.handler)) return undefined;
  const colon = init.handler.lastIndexOf(':');
  return path.join(init.modelDir, colon > 0 ? init.handler.slice(0, colon) : init.handler);
}

/** Why loading failed, with the handler's file and line when the handler is at fault; logged with the stack. */
function wireError(err: unknown): WireError {
  const file = handlerFile();
  const syntax = err instanceof Error && err.name === 'SyntaxError' && file ? syntaxErrorAt(file) : undefined;
  const at = syntax?.at ?? locate(err, init.modelDir);
  if (err instanceof ServeError) return err.toWire(); // our own finding (not ONNX, no such handler): no stack
  const log = makeLogger({ model: init.modelName, version: init.modelVersion, worker: workerId });
  new ErrorReporter(log, init.modelDir).report(err, `model "${init.modelName}" failed to load`, {
    ...(at && { at }),
    ...(syntax && { source: syntax.excerpt }),
  });
  const message = err instanceof Error ? err.message : String(err);
  const where = at ? ` (at ${at})` : '';
  return new ServeError('HandlerError', `model "${init.modelName}" failed to load: ${message}${where}`).toWire();
}

let loadError: WireError | undefined;
const loading = load().catch((err: unknown) => {
  loadError = wireError(err);
  post({ type: 'failed', workerId, threadId, error: loadError });
  return undefined;
});

export default async function runTask(task: BatchTask): Promise<unknown> {
  const loaded = await loading;
  if (!loaded) {
    const error = loadError!;
    const result: BatchResult = {
      workerId,
      responses: task.requests.map(() => ({ ok: false, error })),
      timings: { preprocessMs: 0, inferenceMs: 0, postprocessMs: 0, handlerMs: 0 },
    };
    return result;
  }
  const outcome = task.requests[0]?.v2 // an Open Inference Protocol v2 batch (one batch key: all or none are)
    ? await runV2Batch(loaded.handler, loaded.ctx, task.requests, label)
    : await runBatch(loaded.handler, loaded.ctx, task.requests.map(toRequestInput), label);
  const result: BatchResult = { workerId, responses: outcome.responses, timings: outcome.timings };
  if (outcome.transfer.length === 0) return result;
  return move({ [transferableSymbol]: outcome.transfer, [valueSymbol]: result } as never);
}
