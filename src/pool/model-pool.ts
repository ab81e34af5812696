/**
 * The workers of one model version. Each worker is a single-thread Piscina instance, so the pool can grow and
 * shrink at run time (Piscina cannot change its thread counts once made) and retire exactly the worker it
 * chooses, never one in the middle of a batch. Workers load the model once at start and report on a
 * BroadcastChannel; a worker that cannot load fails the pool's start with the reason (no restart loop).
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
  /** A worker died outside a task or failed to load after start (the pool replaces it). */
  onWorkerProblem?: (message: string) => void;
}

export interface WorkerStatus {
  id: number;
  threadId: number;
  startTime: string;
  loadMs: number;
  status: 'READY' | 'FAILED' | 'UNLOADING';
}

interface Slot {
  piscina: Piscina;
  busy: boolean;
  draining: boolean;
  status?: WorkerStatus;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const ext = path.extname(fileURLToPath(import.meta.url)); // .ts under tsx, .js when built
const ENTRY = path.join(here, '..', 'worker', 'entry' + ext);
/** src/pool → ../../handlers (also dist/src/pool → dist/handlers). */
const BUILTIN_DIR = path.join(here, '..', '..', 'handlers');

export class ModelPool {
  private readonly channel: BroadcastChannel;
  private readonly workerData: WorkerInit;
  private slots: Slot[] = [];
  private failure?: ServeError;
  private waiters: Array<() => void> = [];
  private closed = false;
  /** The main session's inputs and outputs, from the first worker that loaded (null: no serializedFile). */
  io: ModelIO | null = null;

  constructor(private readonly opts: PoolOptions) {
    const name = `modelserver:${opts.model.modelName}:${opts.model.modelVersion}:${randomUUID()}`;
    this.channel = new BroadcastChannel(name);
    this.channel.unref();
    this.channel.onmessage = (ev) => this.onEvent((ev as unknown as { data: WorkerEvent }).data);
    this.workerData = { ...opts.model, channel: name, idCounter: new SharedArrayBuffer(4), builtinDir: BUILTIN_DIR, builtinExt: ext };
    this.grow(opts.workers);
  }

  /** Workers wanted (not retiring). */
  get size(): number {
    return this.active().length;
  }

  get readyCount(): number {
    return this.active().filter((s) => s.status?.status === 'READY').length;
  }

  get failed(): ServeError | undefined {
    return this.failure;
  }

  /** Resolves once `count` workers (default: all wanted) have loaded; rejects with the reason if one cannot. */
  async ready(count = this.size): Promise<void> {
    while (!this.failure && this.readyCount < Math.min(count, this.size)) {
      if (this.closed) throw new ServeError('ServiceUnavailable', 'the model was unloaded while it was loading');
      await this.wait();
    }
    if (this.failure) throw this.failure;
  }

  workerStatus(): WorkerStatus[] {
    const out: WorkerStatus[] = [];
    for (const s of this.slots) if (s.status) out.push(s.draining ? { ...s.status, status: 'UNLOADING' } : s.status);
    return out.sort((a, b) => a.id - b.id);
  }

  /** Grows or shrinks to `n` workers. Retiring workers finish their batch first. */
  scaleTo(n: number): void {
    const active = this.active();
    if (n > active.length) {
      this.grow(n - active.length);
      return;
    }
    // Retire the least useful first: not yet loaded, then idle, then busy (after its batch).
    const order = [...active].sort((a, b) => rank(a) - rank(b));
    for (const slot of order.slice(0, active.length - n)) {
      slot.draining = true;
      if (!slot.busy) void this.retire(slot);
    }
    this.wake();
  }

  /** Runs one batch on an idle ready worker (waiting for one if the batcher raced a retirement). */
  async run(task: BatchTask, transferList: ArrayBuffer[]): Promise<BatchResult> {
    let slot = this.idleSlot();
    while (!slot) {
      if (this.closed) throw new ServeError('ServiceUnavailable', `model "${this.opts.model.modelName}" was unloaded`);
      await this.wait();
      slot = this.idleSlot();
    }
    slot.busy = true;
    try {
      return (await slot.piscina.run(task, { transferList })) as BatchResult;
    } finally {
      slot.busy = false;
      if (slot.draining) void this.retire(slot);
      this.wake();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.piscina.destroy()));
    this.channel.close();
  }

  private active(): Slot[] {
    return this.slots.filter((s) => !s.draining);
  }

  private idleSlot(): Slot | undefined {
    return this.slots.find((s) => !s.busy && !s.draining && s.status?.status === 'READY');
  }

  private grow(count: number): void {
    for (let i = 0; i < count; i++) {
      const piscina = new Piscina({
        filename: ENTRY,
        workerData: this.workerData,
        minThreads: 1,
        maxThreads: 1,
        concurrentTasksPerWorker: 1,
        idleTimeout: Infinity,
        atomics: 'disabled',
      });
      const slot: Slot = { piscina, busy: false, draining: false };
      piscina.on('error', (err: unknown) => this.onWorkerError(slot, err));
      piscina.on('workerDestroy', () => {
        slot.status = undefined;
        this.wake();
      });
      this.slots.push(slot);
    }
  }

  private async retire(slot: Slot): Promise<void> {
    this.slots = this.slots.filter((s) => s !== slot);
    this.wake();
    await slot.piscina.destroy();
  }

  private slotOfThread(threadId: number): Slot | undefined {
    return this.slots.find((s) => s.piscina.threads.some((t) => t.threadId === threadId));
  }

  private onEvent(e: WorkerEvent): void {
    if (e.type === 'metric') {
      this.opts.onMetric?.(e.metric);
      return;
    }
    const slot = this.slotOfThread(e.threadId);
    if (!slot) return; // a worker already retired
    if (e.type === 'ready') {
      this.io ??= e.io;
      slot.status = { id: e.workerId, threadId: e.threadId, startTime: e.startTime, loadMs: e.loadMs, status: 'READY' };
    } else {
      slot.status = { id: e.workerId, threadId: e.threadId, startTime: '', loadMs: 0, status: 'FAILED' };
      const err = ServeError.fromWire(e.error);
      if (this.readyCount === 0) this.failure ??= err;
      else this.opts.onWorkerProblem?.(err.message);
    }
    this.wake();
  }

  /** A worker died outside a task: before any worker is ready that fails the pool; later Piscina replaces it. */
  private onWorkerError(slot: Slot, err: unknown): void {
    const message = `a worker of model "${this.opts.model.modelName}" died: ${(err as Error)?.message ?? err}`;
    slot.status = undefined;
    if (this.readyCount === 0) this.failure ??= new ServeError('InternalServerError', message);
    else this.opts.onWorkerProblem?.(message);
    this.wake();
  }

  private wait(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

function rank(s: Slot): number {
  if (s.status?.status !== 'READY') return 0;
  return s.busy ? 2 : 1;
}
