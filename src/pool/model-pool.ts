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
import { deathError, DeathLog, fibonacciBackoff, noResponse } from './deaths.ts';
import type { BatchResult, BatchTask, CustomMetric, ModelIO, WireRequest, WireResponse, WorkerEvent, WorkerInit } from './messages.ts';

/** What a pool is told about its model; the pool fills in the plumbing fields of WorkerInit. */
export type PoolModel = Omit<WorkerInit, 'channel' | 'idCounter' | 'builtinDir' | 'builtinExt'>;

/** How a pool replaces dying workers (tests shorten these). */
export interface RestartPolicy {
  /** Deaths within `deathWindowMs` that make the pool give up (default 5 in 60 s). */
  maxDeaths?: number;
  deathWindowMs?: number;
  /** Seconds before the n-th consecutive replacement (default Fibonacci 0, 1, 1, 2, 3, 5, … capped at 30). */
  backoff?: (n: number) => number;
}

export interface PoolOptions extends RestartPolicy {
  model: PoolModel;
  /** Each worker's V8 old-generation heap limit in MB (undefined: Node's default). */
  maxHeapMb?: number;
  workers: number;
  onMetric?: (m: CustomMetric) => void;
  /** A worker died or failed to load after start (the pool replaces it). */
  onWorkerProblem?: (message: string) => void;
  /** A worker became ready (queued work can start). */
  onWorkerReady?: () => void;
  /** Workers keep dying: the pool gave up (the model is to be marked FAILED). */
  onFatal?: (reason: string) => void;
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
  dead?: boolean;
  status?: WorkerStatus;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const ext = path.extname(fileURLToPath(import.meta.url)); // .ts under tsx, .js when built
const ENTRY = path.join(here, '..', 'worker', 'entry' + ext);
/** src/pool → ../../handlers (also dist/src/pool → dist/handlers). */
const BUILTIN_DIR = path.join(here, '..', '..', 'handlers');

/**
 * A worker's JavaScript makes little garbage (its big data is native: images, tensors), so a large young
 * generation mostly holds small dead objects that keep native buffers alive until the next scavenge. V8's default
 * (up to 48 MB) was cut to 8 MB first (CNN throughput unchanged). At 2 MB, RSS per added CNN worker after traffic
 * measured 70-71 MB against 77-89 with 8 MB (two runs each, slope from 1 to 3 workers), CNN req/s with 3 workers
 * 69-72 against 66-68, and MLP req/s at c=64 and the CNN's p50 at c=1 the same within noise.
 */
const WORKER_YOUNG_GENERATION_MB = 2;

export class ModelPool {
  private readonly channel: BroadcastChannel;
  private readonly workerData: WorkerInit;
  private slots: Slot[] = [];
  /** Workers wanted; replacements of dead workers may still be on their way. */
  private target: number;
  private readonly deaths: DeathLog;
  private consecutiveDeaths = 0;
  private everReady = false;
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
    this.target = opts.workers;
    this.deaths = new DeathLog(opts.maxDeaths ?? 5, opts.deathWindowMs ?? 60_000);
    this.grow(opts.workers);
  }

  /** Workers wanted (not retiring), including replacements on their way. */
  get size(): number {
    return this.target;
  }

  get readyCount(): number {
    return this.active().filter((s) => s.status?.status === 'READY').length;
  }

  get failed(): ServeError | undefined {
    return this.failure;
  }

  /** Resolves once `count` workers (default: all wanted) have loaded; rejects with the reason if one cannot. */
  async ready(count = this.size): Promise<void> {
    while (!this.failure && this.readyCount < Math.min(count, this.target)) {
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
    this.target = n;
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

  /**
   * Runs one batch on an idle ready worker (waiting for one if the batcher raced a retirement). A batch that
   * takes longer than `timeoutMs` fails with 504 and its worker is replaced. A batch whose worker dies is run
   * again one request at a time, each alone on a worker, when its bytes are still at hand (shared, not
   * transferred): a request that kills a worker when alone too is a poison request and fails by itself with a
   * 500 (507 for memory) that names it, while the others are answered. Deaths caused by a poison request do not
   * count toward giving the model up; a death that no request explains does. A batch that cannot be re-run
   * (transferred v2 tensors) fails with a 500 that names the model and the cause.
   */
  async run(task: BatchTask, transferList: ArrayBuffer[], timeoutMs = 0): Promise<BatchResult> {
    const first = await this.attempt(task, transferList, timeoutMs);
    if (first.result) return first.result;
    const retriable = transferList.length === 0 && !this.closed && !this.failure;
    if (!retriable) {
      this.countDeath(first.cause);
      throw deathError(this.label, first.cause, first.err);
    }
    const alone = await Promise.all(task.requests.map((r) => this.runAlone(r, timeoutMs)));
    if (!alone.some((a) => a.poison)) this.countDeath(first.cause);
    const done = alone.find((a) => a.result)?.result;
    return {
      workerId: done?.workerId ?? -1,
      timings: done?.timings ?? { preprocessMs: 0, inferenceMs: 0, postprocessMs: 0, handlerMs: 0 },
      responses: alone.map((a) => a.response),
    };
  }

  private get label(): string {
    return `model "${this.opts.model.modelName}" version ${this.opts.model.modelVersion}`;
  }

  /** One request of a batch whose worker died, run alone. */
  private async runAlone(request: WireRequest, timeoutMs: number): Promise<{ response: WireResponse; result?: BatchResult; poison?: true }> {
    try {
      const a = await this.attempt({ requests: [request] }, [], timeoutMs);
      if (a.result) return { response: a.result.responses[0] ?? noResponse(this.label), result: a.result };
      const err = deathError(this.label, a.cause, a.err);
      const message = `${this.label}: request ${request.requestId} killed its worker each time it ran, in a batch and alone (worker died: ${a.cause}); it was not retried again`;
      return { response: { ok: false, error: new ServeError(err.kind, message).toWire() }, poison: true };
    } catch (err) {
      const se = err instanceof ServeError ? err : new ServeError('InternalServerError', `${this.label}: ${(err as Error)?.message ?? String(err)}`);
      return { response: { ok: false, error: se.toWire() } };
    }
  }

  /** One run on one worker: its result, or how the worker died (the death is not counted here). */
  private async attempt(
    task: BatchTask,
    transferList: ArrayBuffer[],
    timeoutMs: number,
  ): Promise<{ result: BatchResult; cause?: undefined; err?: undefined } | { result?: undefined; cause: string; err: unknown }> {
    const slot = await this.acquire();
    const abort = new AbortController();
    const timer = timeoutMs > 0 ? setTimeout(() => abort.abort(), timeoutMs) : undefined;
    try {
      return { result: (await slot.piscina.run(task, { transferList, signal: abort.signal })) as BatchResult };
    } catch (err) {
      if (abort.signal.aborted) {
        this.replace(slot, `did not respond within ${timeoutMs / 1000} s`, false);
        throw new ServeError('ResponseTimeout', `${this.label} did not respond within ${timeoutMs / 1000} s`);
      }
      const cause = (err as Error)?.message ?? String(err);
      this.replace(slot, cause, true, false);
      return { cause, err };
    } finally {
      clearTimeout(timer);
      slot.busy = false;
      if (slot.draining && !slot.dead) void this.retire(slot);
      this.wake();
    }
  }

  private async acquire(): Promise<Slot> {
    let slot = this.idleSlot();
    while (!slot) {
      if (this.closed) throw new ServeError('ServiceUnavailable', `model "${this.opts.model.modelName}" was unloaded`);
      if (this.failure) throw this.failure;
      await this.wait();
      slot = this.idleSlot();
    }
    slot.busy = true;
    return slot;
  }

  /**
   * Drops a worker that died (or hung) and starts a replacement, after a backoff when workers keep dying; too
   * many deaths in a short time and the pool gives up (onFatal) instead of looping.
   */
  private replace(slot: Slot, cause: string, died: boolean, count = true): void {
    if (slot.dead) return;
    slot.dead = true;
    slot.status = undefined;
    this.slots = this.slots.filter((s) => s !== slot);
    void slot.piscina.destroy().catch(() => {});
    if (this.closed) return;
    const label = `a worker of model "${this.opts.model.modelName}" version ${this.opts.model.modelVersion}`;
    this.opts.onWorkerProblem?.(`${label} ${died ? 'died' : 'was replaced'}: ${cause}`);
    let delay = 0;
    if (died) {
      if (count && this.countDeath(cause)) return;
      delay = (this.opts.backoff ?? fibonacciBackoff)(this.consecutiveDeaths++) * 1000;
    }
    const timer = setTimeout(() => {
      if (!this.closed && !this.failure && this.active().length < this.target) this.grow(1);
    }, delay);
    timer.unref();
    this.wake();
  }

  /**
   * Records a death that counts toward giving up; true when this one made the pool give up (`maxDeaths` within
   * `deathWindowMs`: the pool fails and onFatal reports it).
   */
  private countDeath(cause: string): boolean {
    if (this.closed || this.failure) return this.failure !== undefined;
    const reason = this.deaths.record(cause);
    if (reason === undefined) return false;
    this.failure = new ServeError('ServiceUnavailable', `model "${this.opts.model.modelName}" failed: ${reason}`);
    this.opts.onFatal?.(reason);
    this.wake();
    return true;
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
        resourceLimits: {
          maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB,
          ...(this.opts.maxHeapMb ? { maxOldGenerationSizeMb: this.opts.maxHeapMb } : {}),
        },
      });
      const slot: Slot = { piscina, busy: false, draining: false };
      piscina.on('error', (err: unknown) => this.onWorkerError(slot, err));
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
      this.consecutiveDeaths = 0;
      this.everReady = true;
      slot.status = { id: e.workerId, threadId: e.threadId, startTime: e.startTime, loadMs: e.loadMs, status: 'READY' };
      this.opts.onWorkerReady?.();
    } else {
      slot.status = { id: e.workerId, threadId: e.threadId, startTime: '', loadMs: 0, status: 'FAILED' };
      const err = ServeError.fromWire(e.error);
      if (!this.everReady) this.failure ??= err;
      else this.replace(slot, err.message, true);
    }
    this.wake();
  }

  /** A worker died outside a task: before any worker is ready that fails the pool; later it is replaced. */
  private onWorkerError(slot: Slot, err: unknown): void {
    const cause = (err as Error)?.message ?? String(err);
    if (!this.everReady && !this.failure) {
      this.failure = new ServeError('InternalServerError', `a worker of model "${this.opts.model.modelName}" died while loading: ${cause}`);
      this.wake();
      return;
    }
    this.replace(slot, cause, true);
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
