/**
 * A real HandlerContext for handler tests, without a server or worker: real onnxruntime sessions (one intra-op
 * thread each), and logger, metrics and response settings that record what the handler did.
 *
 *   const ctx = await makeHandlerContext({ modelDir, serializedFile: 'model.onnx' });
 *   await handler.initialize?.(ctx);
 *   ...
 *   await ctx.dispose();
 */
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type {
  HandlerContext,
  HandlerLogger,
  HandlerMetrics,
  Manifest,
  SessionOptions,
} from '../../src/handler/contract.ts';
// The server's own HandlerError, so handler tests see exactly what handlers get in a worker.
import { HandlerError } from '../../src/worker/context.ts';


export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  extra?: Record<string, unknown>;
}

export interface MetricCall {
  kind: 'counter' | 'gauge' | 'histogram';
  name: string;
  value: number;
  labels: Record<string, string>;
}

export interface ResponseSettingCall {
  index: number;
  kind: 'status' | 'contentType' | 'header';
  name?: string;
  value: string | number;
}

export interface TestHandlerContext extends HandlerContext {
  readonly logs: LogRecord[];
  readonly metricCalls: MetricCall[];
  readonly responseCalls: ResponseSettingCall[];
  /** Every session created so far (the serializedFile's first, if any). */
  readonly sessions: ort.InferenceSession[];
  /** Releases every session. */
  dispose(): Promise<void>;
}

export interface MakeHandlerContextOptions {
  modelDir: string;
  /** Becomes ctx.session (and manifest.model.serializedFile). */
  serializedFile?: string;
  modelConfig?: Record<string, unknown>;
  batchSize?: number;
  modelName?: string;
  modelVersion?: string;
  handler?: string;
  workerId?: number;
  /** Print log lines to stderr as well as recording them (default: only record). */
  echoLogs?: boolean;
}

export async function makeHandlerContext(opts: MakeHandlerContextOptions): Promise<TestHandlerContext> {
  const modelDir = path.resolve(opts.modelDir);
  const modelName = opts.modelName ?? 'test-model';
  const modelVersion = opts.modelVersion ?? '1.0';
  const sessions: ort.InferenceSession[] = [];
  const logs: LogRecord[] = [];
  const metricCalls: MetricCall[] = [];
  const responseCalls: ResponseSettingCall[] = [];

  const createSession = async (file: string, options: SessionOptions = {}): Promise<ort.InferenceSession> => {
    const full = path.resolve(modelDir, file);
    const rel = path.relative(modelDir, full);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new HandlerError(400, `"${file}" is not a file inside the model's archive`);
    }
    const session = await ort.InferenceSession.create(full, {
      intraOpNumThreads: options.intraOpNumThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      executionProviders: options.executionProviders ?? ['cpu'],
    });
    sessions.push(session);
    return session;
  };

  const log =
    (level: LogRecord['level']) =>
    (msg: string, extra?: Record<string, unknown>): void => {
      logs.push({ level, msg, extra });
      if (opts.echoLogs) process.stderr.write(`[${level}] ${msg}${extra ? ' ' + JSON.stringify(extra) : ''}\n`);
    };
  const logger: HandlerLogger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };

  const metric =
    (kind: MetricCall['kind']) =>
    (name: string, value = 1, labels: Record<string, string> = {}): void => {
      metricCalls.push({ kind, name, value, labels });
    };
  const metrics: HandlerMetrics = { addCounter: metric('counter'), setGauge: metric('gauge'), observe: metric('histogram') };

  const manifest: Manifest = {
    createdOn: new Date().toISOString(),
    runtime: 'onnx',
    archiverVersion: 'test',
    model: {
      modelName,
      modelVersion,
      handler: opts.handler ?? 'test',
      ...(opts.serializedFile !== undefined ? { serializedFile: opts.serializedFile } : {}),
    },
  };
  const session = opts.serializedFile !== undefined ? await createSession(opts.serializedFile) : null;

  return {
    modelName,
    modelVersion,
    modelDir,
    manifest,
    modelConfig: opts.modelConfig ?? {},
    batchSize: opts.batchSize ?? 1,
    workerId: opts.workerId ?? 0,
    device: 'cpu',
    session,
    createSession,
    Tensor: ort.Tensor,
    logger,
    metrics,
    HandlerError: HandlerError,
    setResponseStatus: (index, status) => void responseCalls.push({ index, kind: 'status', value: status }),
    setResponseContentType: (index, contentType) =>
      void responseCalls.push({ index, kind: 'contentType', value: contentType }),
    setResponseHeader: (index, name, value) => void responseCalls.push({ index, kind: 'header', name, value }),
    logs,
    metricCalls,
    responseCalls,
    sessions,
    async dispose() {
      await Promise.all(sessions.splice(0).map((s) => s.release()));
    },
  };
}
