/**
 * The server's metrics on a prom-client registry of its own: TorchServe's names and labels (torchserve.ts),
 * host gauges (host.ts), our per model-version histograms and gauges (model-metrics.ts) and the handlers'
 * custom metrics (custom.ts). The API apps and the composition root record through this facade only.
 */
import os from 'node:os';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import type { BatchTimings, CustomMetric } from '../pool/messages.ts';
import { CustomMetrics, type Warn } from './custom.ts';
import { registerHostMetrics } from './host.ts';
import { ModelMetrics } from './model-metrics.ts';
import type { ModelSource } from './model-source.ts';
import { TorchServeMetrics } from './torchserve.ts';
import { registerTritonMetrics } from './triton.ts';

export type { ModelSource, ModelView } from './model-source.ts';

export interface MetricsOptions {
  /** Where dropped custom metrics are reported (once per metric and reason). */
  warn?: Warn;
  hostname?: string;
  /** The file system DiskUsage/DiskAvailable describe (default `/`). */
  diskPath?: string;
}

/** One inference request answered by its model (a JobOutcome from the batcher carries the last three). */
export interface ServedRequest {
  model: string;
  /** The version that served it. */
  version: string;
  /** The version the URL named, if any (TorchServe's counters then say "default"). */
  requestedVersion?: string;
  /** From arrival to answer. */
  totalMs: number;
  outcome: { queueMs: number; batchSize: number; timings: BatchTimings };
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly hostname: string;
  private source?: ModelSource;
  private readonly ts: TorchServeMetrics;
  private readonly models: ModelMetrics;
  private readonly custom: CustomMetrics;
  private readonly queueFullTotal: Counter<'model_name' | 'model_version'>;
  /** Every request of a batch shares its timings object: record each batch once. */
  private readonly seenBatches = new WeakSet<BatchTimings>();

  constructor(opts: MetricsOptions = {}) {
    this.hostname = opts.hostname ?? os.hostname();
    const source = () => this.source;
    this.ts = new TorchServeMetrics(this.registry, this.hostname, source);
    this.models = new ModelMetrics(this.registry, source);
    registerTritonMetrics(this.registry, source);
    registerHostMetrics(this.registry, this.hostname, opts.diskPath);
    // Node's own: heap, RSS, event-loop lag, GC, open handles (process_*, nodejs_*).
    collectDefaultMetrics({ register: this.registry });
    this.custom = new CustomMetrics(this.registry, opts.warn ?? (() => {}));
    this.queueFullTotal = new Counter({
      name: 'modelserver_queue_full_total',
      help: 'Requests refused with 503 because the model version\'s job queue was full',
      labelNames: ['model_name', 'model_version'] as const,
      registers: [this.registry],
    });
  }

  /** A request was refused because the model version's queue was full (job_queue_size). */
  queueFull(model: string, version: string): void {
    this.queueFullTotal.inc({ model_name: model, model_version: version });
  }

  /** The models whose queue depth, ready workers and worker load times are read at scrape time. */
  watch(models: ModelSource): void {
    this.source = models;
  }

  /** An inference request reached a known model (ts_inference_requests_total). */
  received(model: string, requestedVersion?: string): void {
    this.ts.received(model, requestedVersion);
  }

  /** An inference request came back from its model's worker (any protocol); call once per request. */
  served(r: ServedRequest): void {
    const { queueMs, batchSize, timings } = r.outcome;
    this.ts.served(r.model, r.requestedVersion, r.totalMs, queueMs, timings.handlerMs);
    this.models.served(r.model, r.version, r.totalMs, queueMs);
    if (this.seenBatches.has(timings)) return;
    this.seenBatches.add(timings);
    const hooksMs = timings.preprocessMs + timings.inferenceMs + timings.postprocessMs;
    this.ts.batch(r.model, hooksMs > 0 ? hooksMs : timings.handlerMs, timings.handlerMs);
    this.models.batch(r.model, r.version, batchSize, timings);
  }

  /**
   * @deprecated use received() and served(): this records TorchServe's three counters only.
   */
  inference(model: string, version: string | undefined, totalMs: number, queueMs: number): void {
    this.ts.received(model, version);
    this.ts.served(model, version, totalMs, queueMs, 0);
  }

  /** Any response of the inference or management API, by status class (Requests2XX/4XX/5XX). */
  response(status: number): void {
    this.ts.response(status);
  }

  /** A custom metric a handler recorded through `ctx.metrics`. */
  handlerMetric(model: string, version: string, m: CustomMetric): void {
    this.custom.record(model, version, m);
  }

  /** Prometheus text of every metric, or of the named ones only (`?name[]=`; unknown names are skipped). */
  async text(names?: string[]): Promise<string> {
    if (!names) return this.registry.metrics();
    const parts = await Promise.all(
      [...new Set(names)].map((n) => (this.registry.getSingleMetric(n) ? this.registry.getSingleMetricAsString(n) : '')),
    );
    const found = parts.filter(Boolean);
    return found.length ? found.join('\n\n') + '\n' : '';
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
