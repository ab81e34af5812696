/**
 * Our own per model-version metrics, beyond TorchServe's: histograms of request, queue, preprocess, inference
 * and postprocess time and of batch size, and gauges of queue depth, requests in flight and ready workers
 * (read from the models at scrape time).
 */
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { ModelSource } from './model-source.ts';
import { HistogramSeries, PerModel } from './series.ts';

type Labels = 'model_name' | 'model_version';
const labelNames = ['model_name', 'model_version'] as const;

/** Seconds, from half a millisecond to a minute. */
const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export interface StageTimes {
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
}

export class ModelMetrics {
  private readonly request: Histogram<Labels>;
  private readonly queue: Histogram<Labels>;
  private readonly stages: Record<keyof StageTimes, Histogram<Labels>>;
  private readonly batchSize: Histogram<Labels>;
  /** Label-bound series per model version (series.ts). */
  private readonly series: PerModel<{
    request: HistogramSeries;
    queue: HistogramSeries;
    batchSize: HistogramSeries;
    stages: Array<[keyof StageTimes, HistogramSeries]>;
  }>;

  constructor(registry: Registry, models: () => ModelSource | undefined) {
    const registers = [registry];
    const seconds = (name: string, help: string) => new Histogram({ name, help, labelNames, buckets: SECONDS, registers });
    this.request = seconds('modelserver_request_duration_seconds', 'Inference request time from arrival to answer, in seconds.');
    this.queue = seconds('modelserver_queue_duration_seconds', 'Time an inference request waited in its model queue, in seconds.');
    this.stages = {
      preprocessMs: seconds('modelserver_preprocess_duration_seconds', "Time of a batch in the handler's preprocess, in seconds."),
      inferenceMs: seconds('modelserver_inference_duration_seconds', "Time of a batch in the handler's inference (the model run), in seconds."),
      postprocessMs: seconds('modelserver_postprocess_duration_seconds', "Time of a batch in the handler's postprocess, in seconds."),
    };
    this.batchSize = new Histogram({
      name: 'modelserver_batch_size',
      help: 'Requests per batch sent to a worker.',
      labelNames,
      buckets: BATCH_SIZES,
      registers,
    });
    this.series = new PerModel((model_name, model_version) => {
      const labels = { model_name, model_version };
      return {
        request: new HistogramSeries(this.request, labels),
        queue: new HistogramSeries(this.queue, labels),
        batchSize: new HistogramSeries(this.batchSize, labels),
        stages: (Object.keys(this.stages) as Array<keyof StageTimes>).map((k) => [k, new HistogramSeries(this.stages[k], labels)]),
      };
    });
    const perModel = (name: string, help: string, read: (mv: ReturnType<ModelSource['all']>[number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const mv of models()?.all() ?? []) this.set({ model_name: mv.name, model_version: mv.version }, read(mv));
        },
      });
    perModel('modelserver_queue_depth', 'Inference requests waiting in the model queue.', (mv) => mv.batcher.pending);
    perModel('modelserver_requests_in_flight', 'Inference requests being handled by a worker.', (mv) => mv.batcher.active);
    perModel('modelserver_ready_workers', 'Workers of the model version ready to take a batch.', (mv) => mv.readyWorkers);
  }

  /** One answered inference request. */
  served(model: string, version: string, totalMs: number, queueMs: number): void {
    const s = this.series.get(model, version);
    s.request.observe(totalMs / 1000);
    s.queue.observe(queueMs / 1000);
  }

  /**
   * One batch. Stage times are recorded only when the handler ran its hooks (a `handle()` handler has one
   * opaque time, which HandlerTime and PredictionTime report).
   */
  batch(model: string, version: string, size: number, t: StageTimes): void {
    const s = this.series.get(model, version);
    s.batchSize.observe(size);
    if (t.preprocessMs + t.inferenceMs + t.postprocessMs === 0) return;
    for (const [k, series] of s.stages) series.observe(t[k] / 1000);
  }
}
