/**
 * Per model-version inference statistics, Triton's (the statistics extension, gRPC ModelStatistics and the
 * `nv_inference_*` metrics all read these): cumulative counts and nanoseconds of successes, failures, queueing and
 * the three compute stages, per executed batch size, and the last inference time. Recorded by
 * `ModelVersion.infer`, which every protocol passes through (/predictions, KServe v1, v2 over REST and gRPC).
 */
import type { BatchTimings } from '../pool/messages.ts';

export interface Duration {
  count: number;
  ns: number;
}

/** Triton's failure reasons (nv_inference_request_failure's `reason` label). */
export type FailureReason = 'REJECTED' | 'CANCELED' | 'BACKEND' | 'OTHER';

export interface BatchStat {
  compute_input: Duration;
  compute_infer: Duration;
  compute_output: Duration;
}

const ns = (ms: number) => Math.round(ms * 1e6);
const zero = (): Duration => ({ count: 0, ns: 0 });

export class InferenceStats {
  success = zero();
  fail = zero();
  queue = zero();
  computeInput = zero();
  computeInfer = zero();
  computeOutput = zero();
  /** Inferences: a request of n rows (a batch dimension of n) counts n. */
  inferenceCount = 0;
  /** Model executions: each batch run once. */
  executionCount = 0;
  /** ms since the epoch of the last successful inference; 0 before any. */
  lastInference = 0;
  readonly failures: Record<FailureReason, number> = { REJECTED: 0, CANCELED: 0, BACKEND: 0, OTHER: 0 };
  /** By requests per executed batch. */
  readonly batches = new Map<number, BatchStat>();
  private readonly seen = new WeakSet<BatchTimings>();

  /** One request answered by the model; `timings` is shared by every request of its batch. */
  succeeded(totalMs: number, queueMs: number, rows: number, batchSize: number, timings: BatchTimings): void {
    this.success.count++;
    this.success.ns += ns(totalMs);
    this.queue.count++;
    this.queue.ns += ns(queueMs);
    this.computed(timings);
    this.inferenceCount += rows;
    this.lastInference = Date.now();
    this.batch(batchSize, timings);
  }

  /** A request that reached the model and failed (the batch it ran in, if any, still counts as executed). */
  failed(totalMs: number, reason: FailureReason, batch?: { batchSize: number; timings: BatchTimings }): void {
    this.fail.count++;
    this.fail.ns += ns(totalMs);
    this.failures[reason]++;
    if (batch) this.batch(batch.batchSize, batch.timings);
  }

  private computed(t: BatchTimings): void {
    // Every request of a batch is charged the batch's compute time, as Triton does.
    const input = t.preprocessMs;
    const infer = t.inferenceMs > 0 || t.preprocessMs > 0 || t.postprocessMs > 0 ? t.inferenceMs : t.handlerMs;
    this.computeInput.count++;
    this.computeInput.ns += ns(input);
    this.computeInfer.count++;
    this.computeInfer.ns += ns(infer);
    this.computeOutput.count++;
    this.computeOutput.ns += ns(t.postprocessMs);
  }

  private batch(size: number, t: BatchTimings): void {
    if (this.seen.has(t)) return;
    this.seen.add(t);
    this.executionCount++;
    let b = this.batches.get(size);
    if (!b) this.batches.set(size, (b = { compute_input: zero(), compute_infer: zero(), compute_output: zero() }));
    const infer = t.inferenceMs > 0 || t.preprocessMs > 0 || t.postprocessMs > 0 ? t.inferenceMs : t.handlerMs;
    for (const [d, ms] of [[b.compute_input, t.preprocessMs], [b.compute_infer, infer], [b.compute_output, t.postprocessMs]] as const) {
      d.count++;
      d.ns += ns(ms);
    }
  }
}
