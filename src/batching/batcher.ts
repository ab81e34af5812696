/**
 * The per model-version dynamic batcher. Work-conserving: whenever a worker slot is free it takes what is
 * queued now (up to batchSize, all of one shape key); requests never wait for a fuller batch while a worker
 * is idle beyond the end of the current event-loop turn, so max_batch_delay is only ever an upper bound.
 * Results and errors fan out by index.
 */
import { performance } from 'node:perf_hooks';
import { ServeError } from '../errors.ts';
import type { BatchResult, BatchTask, BatchTimings, WireRequest, WireResponse } from '../pool/messages.ts';

export interface BatcherOptions {
  batchSize: number;
  /** Requests allowed to wait; past it submit() fails with 503. */
  queueSize: number;
  /** How many batches may be in flight at once (the ready workers). */
  slots: () => number;
  dispatch: (task: BatchTask, transfer: ArrayBuffer[]) => Promise<BatchResult>;
  /** Names the model in error messages. */
  label: string;
  /** Called for each request refused because the queue was full. */
  onQueueFull?: () => void;
}

export interface JobOutcome {
  response: WireResponse;
  queueMs: number;
  batchSize: number;
  workerId: number;
  timings: BatchTimings;
}

interface Job {
  request: WireRequest;
  transfer: ArrayBuffer[];
  key: string;
  enqueuedAt: number;
  resolve: (o: JobOutcome) => void;
  reject: (e: Error) => void;
}

export class Batcher {
  private queue: Job[] = [];
  private inFlight = 0;
  private inFlightRequests = 0;
  private pumpScheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: BatcherOptions) {}

  get pending(): number {
    return this.queue.length;
  }

  get active(): number {
    return this.inFlightRequests;
  }

  get remainingCapacity(): number {
    return Math.max(0, this.opts.queueSize - this.queue.length);
  }

  /** Queues one request; `key` groups requests that may share a batch (e.g. a tensor shape). */
  submit(request: WireRequest, transfer: ArrayBuffer[], key = ''): Promise<JobOutcome> {
    if (this.queue.length >= this.opts.queueSize) {
      this.opts.onQueueFull?.();
      return Promise.reject(
        new ServeError('ServiceUnavailable', `${this.opts.label}: the job queue is full (${this.opts.queueSize} requests)`),
      );
    }
    return new Promise<JobOutcome>((resolve, reject) => {
      this.queue.push({ request, transfer, key, enqueuedAt: performance.now(), resolve, reject });
      this.schedulePump();
    });
  }

  /**
   * Requests that arrive in one turn of the event loop (a burst of connections read together) go out together:
   * the first one schedules a pump for the end of the turn (setImmediate, tens of microseconds), so a lone
   * request is sent at once and a burst becomes one batch instead of one batch per request.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Called when workers become ready, so queued requests start. */
  pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.opts.slots()) {
      this.send(this.take());
    }
  }

  /** Fails everything still queued (e.g. the model is being unloaded). */
  failQueued(err: Error): void {
    const q = this.queue;
    this.queue = [];
    for (const j of q) j.reject(err);
    this.notifyIdle();
  }

  /** Resolves when no request is queued or in flight. */
  async idle(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight > 0) {
      await new Promise<void>((r) => this.idleWaiters.push(r));
    }
  }

  private take(): Job[] {
    const key = this.queue[0].key;
    const batch: Job[] = [];
    const rest: Job[] = [];
    for (const job of this.queue) {
      if (batch.length < this.opts.batchSize && job.key === key) batch.push(job);
      else rest.push(job);
    }
    this.queue = rest;
    return batch;
  }

  private send(batch: Job[]): void {
    this.inFlight++;
    this.inFlightRequests += batch.length;
    const started = performance.now();
    const transfer = batch.flatMap((j) => j.transfer);
    this.opts
      .dispatch({ requests: batch.map((j) => j.request) }, transfer)
      .then(
        (result) => {
          batch.forEach((job, i) => {
            const response = result.responses[i] ?? {
              ok: false,
              error: new ServeError('InternalServerError', `${this.opts.label}: the worker sent no response`).toWire(),
            };
            job.resolve({
              response,
              queueMs: started - job.enqueuedAt,
              batchSize: batch.length,
              workerId: result.workerId,
              timings: result.timings,
            });
          });
        },
        (err: unknown) => {
          const error =
            err instanceof ServeError
              ? err
              : new ServeError('InternalServerError', `${this.opts.label}: ${err instanceof Error ? err.message : String(err)}`);
          for (const job of batch) job.reject(error);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.inFlightRequests -= batch.length;
        this.pump();
        this.notifyIdle();
      });
  }

  private notifyIdle(): void {
    if (this.queue.length > 0 || this.inFlight > 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
