/**
 * The per model-version dynamic batcher. Work-conserving: whenever a worker slot is free it takes what is
 * queued now (up to batchSize, all of one shape key); requests never wait for a fuller batch while a worker
 * is idle beyond the end of the current event-loop turn, so max_batch_delay is only ever an upper bound.
 * Results and errors fan out by index. A request may carry a deadline (it leaves the queue unrun once it passes,
 * answered with the caller's error) and an abort signal (its client went away: it leaves the queue unrun).
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

/** Per-request limits on waiting in the queue; neither touches a request once a worker has it. */
export interface SubmitOptions {
  /** performance.now() in ms: still queued then, the request leaves the queue unrun and fails with `expired()`. */
  deadline?: number;
  /** The error for a passed deadline (default: a 503 that says how long the request waited). */
  expired?: (waitedMs: number) => Error;
  /** Aborted while queued (the client disconnected): the request leaves the queue unrun and fails with the reason. */
  signal?: AbortSignal;
  /** At the deadline the request moves behind every other queued request instead of failing (Triton's DELAY). */
  delay?: boolean;
}

interface Job {
  request: WireRequest;
  transfer: ArrayBuffer[];
  key: string;
  enqueuedAt: number;
  resolve: (o: JobOutcome) => void;
  reject: (e: Error) => void;
  /** Set while the job has a deadline timer or an abort listener; called once it leaves the queue. */
  release?: () => void;
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
  submit(request: WireRequest, transfer: ArrayBuffer[], key = '', options: SubmitOptions = {}): Promise<JobOutcome> {
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    if (this.queue.length >= this.opts.queueSize) {
      this.opts.onQueueFull?.();
      return Promise.reject(
        new ServeError('ServiceUnavailable', `${this.opts.label}: the job queue is full (${this.opts.queueSize} requests)`),
      );
    }
    return new Promise<JobOutcome>((resolve, reject) => {
      const job: Job = { request, transfer, key, enqueuedAt: performance.now(), resolve, reject };
      if (options.deadline !== undefined || options.signal) this.watch(job, options);
      this.queue.push(job);
      this.schedulePump();
    });
  }

  /** Arms the job's deadline timer and abort listener; either removes it from the queue if it is still there. */
  private watch(job: Job, options: SubmitOptions): void {
    const { deadline, signal } = options;
    let timer: NodeJS.Timeout | undefined;
    const leave = (err: Error) => {
      const i = this.queue.indexOf(job);
      if (i < 0) return; // already dispatched: it runs to its end
      this.queue.splice(i, 1);
      job.release?.();
      job.reject(err);
      this.notifyIdle();
    };
    const onAbort = () => leave(abortReason(signal!));
    if (deadline !== undefined) {
      const expire = () => {
        if (options.delay) {
          const i = this.queue.indexOf(job);
          if (i >= 0 && i < this.queue.length - 1) this.queue.push(...this.queue.splice(i, 1));
          return;
        }
        const waited = performance.now() - job.enqueuedAt;
        leave(
          options.expired?.(waited) ??
            new ServeError('ServiceUnavailable', `${this.opts.label}: the request waited ${Math.round(waited)} ms in the queue, past its queue timeout`),
        );
      };
      timer = setTimeout(expire, Math.max(0, deadline - performance.now()));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    job.release = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      job.release = undefined;
    };
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
    for (const j of q) {
      j.release?.();
      j.reject(err);
    }
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
      if (batch.length < this.opts.batchSize && job.key === key) {
        job.release?.();
        batch.push(job);
      } else rest.push(job);
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

/** The error an aborted request fails with: the signal's reason when it is a ServeError (nobody may be listening). */
function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof ServeError ? r : new ServeError('ServiceUnavailable', 'the request was cancelled before it ran');
}
