/** The HandlerContext a worker hands to its handler; one per worker, response settings reset per batch. */
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import type {
  HandlerContext,
  HandlerLogger,
  HandlerMetrics,
  Manifest,
  SessionOptions,
} from '../handler/contract.ts';
import type { CustomMetric } from '../pool/messages.ts';
import { createSession, type SessionBudget } from './session.ts';

/** What a hook throws (or returns for one request) to answer with its own status. */
export class HandlerError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HandlerError';
    this.status = Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
  }
}

export interface ResponseSettings {
  status?: number;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface WorkerContextInit {
  modelName: string;
  modelVersion: string;
  modelDir: string;
  manifest: Manifest;
  modelConfig: Record<string, unknown>;
  batchSize: number;
  workerId: number;
  budget: SessionBudget;
  session: ort.InferenceSession | null;
  emitMetric: (m: CustomMetric) => void;
}

export class WorkerContext implements HandlerContext {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly modelDir: string;
  readonly manifest: Manifest;
  readonly modelConfig: Record<string, unknown>;
  readonly batchSize: number;
  readonly workerId: number;
  readonly device: string;
  readonly session: ort.InferenceSession | null;
  readonly Tensor = ort.Tensor;
  readonly HandlerError = HandlerError;
  readonly logger: HandlerLogger;
  readonly metrics: HandlerMetrics;
  private readonly budget: SessionBudget;
  private settings: ResponseSettings[] = [];

  constructor(init: WorkerContextInit) {
    this.modelName = init.modelName;
    this.modelVersion = init.modelVersion;
    this.modelDir = init.modelDir;
    this.manifest = init.manifest;
    this.modelConfig = init.modelConfig;
    this.batchSize = init.batchSize;
    this.workerId = init.workerId;
    this.budget = init.budget;
    this.device = init.budget.device;
    this.session = init.session;
    this.logger = makeLogger({ model: init.modelName, version: init.modelVersion, worker: init.workerId });
    const emit = (kind: CustomMetric['kind']) => (name: string, value = 1, labels: Record<string, string> = {}) =>
      init.emitMetric({ kind, name, value, labels });
    this.metrics = { addCounter: emit('counter'), setGauge: emit('gauge'), observe: emit('histogram') };
  }

  createSession(file: string, options?: SessionOptions): Promise<ort.InferenceSession> {
    return createSession(this.modelDir, file, this.budget, options);
  }

  /** Starts a batch: forget the previous batch's response settings. */
  beginBatch(): void {
    this.settings = [];
  }

  responseSettings(index: number): ResponseSettings | undefined {
    return this.settings[index];
  }

  setResponseStatus(index: number, status: number): void {
    this.slot(index).status = status;
  }

  setResponseContentType(index: number, contentType: string): void {
    this.slot(index).contentType = contentType;
  }

  setResponseHeader(index: number, name: string, value: string): void {
    const s = this.slot(index);
    (s.headers ??= {})[name.toLowerCase()] = String(value);
  }

  private slot(index: number): ResponseSettings {
    return (this.settings[index] ??= {});
  }
}

/** pino's numeric levels (the worker side does not load pino, so the shape is written here). */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** Errors and bigints in `extra` become JSON (pino's err shape for errors). */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * The handler's logger: JSON lines on stderr in the server logger's shape (numeric `level`, ISO `time`,
 * `name`, `component: "handler"`, the model, version and worker, then the handler's fields and `msg`),
 * filtered by `MS_LOG_LEVEL` like the server's.
 */
/** pino-pretty's formatter, as the server's terminal logger uses it (MS_LOG_FORMAT=pretty, set by --foreground). */
function prettyLines(): (line: string) => string {
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  return prettyFactory({ translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name', colorize: process.stderr.isTTY === true });
}

export function makeLogger(bindings: Record<string, unknown>): HandlerLogger {
  const threshold = LEVELS[(process.env.MS_LOG_LEVEL ?? 'info').toLowerCase()] ?? LEVELS.info;
  const write = (level: number) => (msg: string, extra?: Record<string, unknown>) => {
    if (level < threshold) return;
    const head = { level, time: new Date().toISOString(), name: 'modelserver', component: 'handler', ...bindings };
    let line: string;
    try {
      line = JSON.stringify({ ...head, ...extra, ...head, msg: String(msg) }, replacer); // our fields win
    } catch {
      line = JSON.stringify({ ...head, msg: String(msg), extra: '[unserializable]' });
    }
    process.stderr.write(pretty ? pretty(line) : line + '\n');
  };
  const pretty = process.env.MS_LOG_FORMAT === 'pretty' ? prettyLines() : undefined;
  return { debug: write(LEVELS.debug), info: write(LEVELS.info), warn: write(LEVELS.warn), error: write(LEVELS.error) };
}
