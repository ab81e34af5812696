/**
 * One Piscina pool per model version. Workers load the model at start and report on a BroadcastChannel;
 * the pool knows which workers are ready and fails fast when one cannot load (no restart loop).
 */
import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { ServeError } from '../errors.ts';
import type { BatchResult, BatchTask, CustomMetric, ModelIO, WorkerEvent, WorkerInit } from './messages.ts';

/** What a pool is told about its model; the pool fills in the plumbing fields of WorkerInit. */
export type PoolModel = Omit<WorkerInit, 'channel' | 'idCounter' | 'builtinDir' | 'builtinExt'>;

export interface PoolOptions {
  model: PoolModel;
  workers: number;
  onMetric?: (m: CustomMetric) => void;
  onWorkerLost?: (threadId: number) => void;
}

export interface WorkerStatus {
  id: number;
  threadId: number;
  startTime: string;
  loadMs: number;
  status: 'READY' | 'FAILED';
}

const here = path.dirname(fileURLToPath(import.meta.url));
const ext = path.extname(fileURLToPath(import.meta.url)); // .ts under tsx, .js when built
const ENTRY = path.join(here, '..', 'worker', 'entry' + ext);
/** src/pool → ../../handlers (also dist/src/pool → dist/handlers). */
const BUILTIN_DIR = path.join(here, '..', '..', 'handlers');

export class ModelPool {
  readonly size: number;
  private readonly piscina: Piscina;
  private readonly channel: BroadcastChannel;
  private readonly workers = new Map<number, WorkerStatus>();
  private failure?: ServeError;
  /** The main session's inputs and outputs, from the first worker that loaded (null: no serializedFile). */
  io: ModelIO | null = null;
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly opts: PoolOptions) {
    this.size = opts.workers;
    const name = `modelserver:${opts.model.modelName}:${opts.model.modelVersion}:${randomUUID()}`;
    this.channel = new BroadcastChannel(name);
    this.channel.unref();
    this.channel.onmessage = (ev) => this.onEvent((ev as unknown as { data: WorkerEvent }).data);
    const workerData: WorkerInit = {
      ...opts.model,
      channel: name,
      idCounter: new SharedArrayBuffer(4),
      builtinDir: BUILTIN_DIR,
      builtinExt: ext,
    };
    this.piscina = new Piscina({
      filename: ENTRY,
      workerData,
      minThreads: opts.workers,
      maxThreads: opts.workers,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      atomics: 'disabled',
      maxQueue: 'auto',
    });
    this.piscina.on('error', (err: unknown) => this.onWorkerError(err));
    this.piscina.on('workerDestroy', (w: { id: number }) => {
      for (const [id, s] of this.workers) if (s.threadId === w.id) this.workers.delete(id);
      opts.onWorkerLost?.(w.id);
      this.wake();
    });
  }

  /** Resolves once every worker has loaded the model; rejects with the reason when one cannot. */
  async ready(): Promise<void> {
    while (!this.failure && this.readyCount < this.size) {
      if (this.closed) throw new ServeError('ServiceUnavailable', 'the model was unloaded while it was loading');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.failure) throw this.failure;
  }

  get readyCount(): number {
    let n = 0;
    for (const w of this.workers.values()) if (w.status === 'READY') n++;
    return n;
  }

  get failed(): ServeError | undefined {
    return this.failure;
  }

  workerStatus(): WorkerStatus[] {
    return [...this.workers.values()].sort((a, b) => a.id - b.id);
  }

  run(task: BatchTask, transferList: ArrayBuffer[]): Promise<BatchResult> {
    return this.piscina.run(task, { transferList }) as Promise<BatchResult>;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    this.channel.close();
    await this.piscina.destroy();
  }

  private onEvent(e: WorkerEvent): void {
    if (e.type === 'metric') {
      this.opts.onMetric?.(e.metric);
      return;
    }
    if (e.type === 'ready') {
      this.io ??= e.io;
      this.workers.set(e.workerId, {
        id: e.workerId,
        threadId: e.threadId,
        startTime: e.startTime,
        loadMs: e.loadMs,
        status: 'READY',
      });
    } else {
      this.workers.set(e.workerId, { id: e.workerId, threadId: e.threadId, startTime: '', loadMs: 0, status: 'FAILED' });
      this.failure ??= ServeError.fromWire(e.error);
    }
    this.wake();
  }

  /** A worker died outside a task: while loading that fails the model; later Piscina replaces the worker. */
  private onWorkerError(err: unknown): void {
    const message = `a worker of model "${this.opts.model.modelName}" died: ${(err as Error)?.message ?? err}`;
    if (this.readyCount < this.size) this.failure ??= new ServeError('InternalServerError', message);
    else process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: message }) + '\n');
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
