/** One registered model version: its extracted archive, settings, state, worker pool and batcher. */
import { performance } from 'node:perf_hooks';
import { Batcher, type JobOutcome, type SubmitOptions } from '../batching/batcher.ts';
import { ServeError } from '../errors.ts';
import type { Manifest } from '../handler/contract.ts';
import type { CustomMetric, ModelIO, WireRequest } from '../pool/messages.ts';
import type { SourceKind } from '../sources/source.ts';
import type { TritonModel } from '../sources/triton-model.ts';
import { ModelPool, type RestartPolicy, type WorkerStatus } from '../pool/model-pool.ts';
import { batchable } from '../sources/triton-config.ts';
import { startAutoscaler, type AutoscaleOptions } from './autoscaler.ts';
import { InferenceStats } from './inference-stats.ts';

export type ModelState = 'LOADING' | 'READY' | 'FAILED' | 'UNLOADING';

export interface ModelSettings {
  minWorkers: number;
  maxWorkers: number;
  batchSize: number;
  /** ms; an upper bound on waiting for a fuller batch (the batcher never waits while a worker is free). */
  maxBatchDelay: number;
  /** s */
  responseTimeout: number;
  jobQueueSize: number;
  intraOpThreads: number;
  device: string;
  /** ms a request may wait in the queue before it is answered 503 (Triton's default_timeout_microseconds); unset: no limit. */
  queueTimeout?: number;
}

export interface ModelVersionInit {
  name: string;
  version: string;
  /** Where the archive came from, as given (TorchServe's modelUrl). */
  url: string;
  dir: string;
  /** True when `dir` is a scratch copy removed with the version; false for models served in place. */
  ownsDir: boolean;
  /** What the model came from. */
  sourceKind: SourceKind;
  /** The Triton model configuration (repository folders and bare ONNX models), completed once a worker loaded. */
  triton?: TritonModel;
  manifest: Manifest;
  /** The handler to run: the manifest's, or the one given at registration. */
  handler: string;
  modelConfig: Record<string, unknown>;
  settings: ModelSettings;
  loadedAtStartup: boolean;
  onMetric?: (m: CustomMetric) => void;
  onWorkerProblem?: (message: string) => void;
  onQueueFull?: () => void;
  autoscale?: AutoscaleOptions;
  restart?: RestartPolicy;
  maxHeapMb?: number;
}

export class ModelVersion {
  readonly name: string;
  readonly version: string;
  readonly url: string;
  readonly dir: string;
  readonly ownsDir: boolean;
  readonly sourceKind: SourceKind;
  readonly triton?: TritonModel;
  readonly manifest: Manifest;
  readonly handler: string;
  readonly modelConfig: Record<string, unknown>;
  readonly loadedAtStartup: boolean;
  settings: ModelSettings;
  state: ModelState = 'LOADING';
  failure?: string;
  private pool?: ModelPool;
  private autoscaler?: { stop(): void };
  readonly batcher: Batcher;
  /** Triton's inference statistics (the statistics extension, ModelStatistics, nv_inference_* metrics). */
  readonly stats = new InferenceStats();

  constructor(private readonly init: ModelVersionInit) {
    this.name = init.name;
    this.version = init.version;
    this.url = init.url;
    this.dir = init.dir;
    this.ownsDir = init.ownsDir;
    this.sourceKind = init.sourceKind;
    this.triton = init.triton;
    this.manifest = init.manifest;
    this.handler = init.handler;
    this.modelConfig = init.modelConfig;
    this.loadedAtStartup = init.loadedAtStartup;
    this.settings = init.settings;
    const mv = this;
    this.batcher = new Batcher({
      // Read live: a Triton model's batch size may be completed from the model once it loads.
      get batchSize() {
        return mv.settings.batchSize;
      },
      get queueSize() {
        return mv.settings.jobQueueSize;
      },
      slots: () => (this.state === 'READY' || this.state === 'UNLOADING' ? (this.pool?.readyCount ?? 0) : 0),
      dispatch: (task, transfer) => this.pool!.run(task, transfer, this.settings.responseTimeout * 1000),
      label: `model "${init.name}" version ${init.version}`,
      onQueueFull: init.onQueueFull,
    });
  }

  /** Starts the workers; resolves when they are all ready, rejects (state FAILED) with the reason. */
  async start(): Promise<void> {
    this.pool = new ModelPool({
      ...this.init.restart,
      maxHeapMb: this.init.maxHeapMb,
      workers: Math.max(this.settings.minWorkers, 0),
      onMetric: this.init.onMetric,
      onWorkerProblem: this.init.onWorkerProblem,
      onFatal: (reason) => this.fail(reason),
      onWorkerReady: () => this.batcher.pump(),
      model: {
        modelName: this.name,
        modelVersion: this.version,
        modelDir: this.dir,
        manifest: this.manifest,
        modelConfig: this.modelConfig,
        handler: this.handler,
        batchSize: this.settings.batchSize,
        device: this.settings.device,
        intraOpThreads: this.settings.intraOpThreads,
      },
    });
    try {
      await this.pool.ready();
      // A Triton config is completed from the model and checked against it before the version is READY.
      if (this.triton && this.pool.io) this.settings = { ...this.settings, ...this.triton.loaded(this.pool.io) };
      if (this.state === 'LOADING') this.state = 'READY';
      this.batcher.pump();
      this.autoscaler = startAutoscaler(this, this.init.autoscale);
    } catch (err) {
      this.state = 'FAILED';
      this.failure = err instanceof Error ? err.message : String(err);
      await this.pool.close().catch(() => {});
      throw err;
    }
  }

  /** Workers keep dying: FAILED with the reason, queued requests answered, workers freed. */
  private fail(reason: string): void {
    if (this.state === 'UNLOADING') return;
    this.state = 'FAILED';
    this.failure = reason;
    this.autoscaler?.stop();
    this.batcher.failQueued(new ServeError('ServiceUnavailable', `model "${this.name}" version ${this.version} failed: ${reason}`));
    void this.pool?.close();
  }

  /** Workers wanted now (between minWorkers and maxWorkers). */
  get workersWanted(): number {
    return this.pool?.size ?? 0;
  }

  /**
   * Sets min and max workers and scales to min; with `wait`, resolves once the new workers are ready.
   * Retiring workers finish their batch first.
   */
  async scale(minWorkers: number, maxWorkers: number, wait: boolean): Promise<void> {
    this.settings = { ...this.settings, minWorkers, maxWorkers };
    this.resize(minWorkers);
    if (wait) await this.pool?.ready(minWorkers);
  }

  /** Changes the number of workers within [min, max] (used by scale() and the autoscaler). */
  resize(n: number): void {
    if (!this.pool || this.state === 'UNLOADING' || this.state === 'FAILED') return;
    this.pool.scaleTo(n);
    this.batcher.pump();
  }

  get readyWorkers(): number {
    return this.pool?.readyCount ?? 0;
  }

  get healthy(): boolean {
    return this.state === 'READY' && this.readyWorkers >= this.settings.minWorkers;
  }

  /** The model's inputs and outputs once a worker has loaded it (null before, or without a serializedFile). */
  get io(): ModelIO | null {
    return this.pool?.io ?? null;
  }

  workers(): WorkerStatus[] {
    return this.pool?.workerStatus() ?? [];
  }

  /** Queues one request for inference; `options` bound its wait in the queue (deadline, cancellation). */
  infer(request: WireRequest, transfer: ArrayBuffer[], key?: string, options?: SubmitOptions): Promise<JobOutcome> {
    if (this.state === 'LOADING') {
      return Promise.reject(new ServeError('ServiceUnavailable', `model "${this.name}" version ${this.version} is still loading`));
    }
    if (this.state === 'FAILED') {
      return Promise.reject(
        new ServeError('ServiceUnavailable', `model "${this.name}" version ${this.version} failed to load: ${this.failure}`),
      );
    }
    if (this.state === 'UNLOADING') {
      return Promise.reject(new ServeError('ServiceUnavailable', `model "${this.name}" version ${this.version} is being unloaded`));
    }
    if (this.workersWanted === 0) {
      return Promise.reject(
        new ServeError(
          'ServiceUnavailable',
          `model "${this.name}" has no worker to serve inference requests; use the scale workers API to add workers`,
        ),
      );
    }
    const started = performance.now();
    return this.batcher.submit(request, transfer, key, options).then(
      (outcome) => {
        const ms = performance.now() - started;
        if (outcome.response.ok) this.stats.succeeded(ms, outcome.queueMs, this.rowsOf(request), outcome.batchSize, outcome.timings);
        else this.stats.failed(ms, 'BACKEND', outcome);
        return outcome;
      },
      (err: unknown) => {
        const reason = options?.signal?.aborted ? 'CANCELED' : err instanceof ServeError && err.kind === 'ServiceUnavailable' ? 'REJECTED' : 'BACKEND';
        this.stats.failed(performance.now() - started, reason);
        throw err;
      },
    );
  }

  /** Inferences in one request: its batch dimension for a v2 request to a model that has one, else 1. */
  private rowsOf(request: WireRequest): number {
    const first = request.v2?.inputs[0];
    if (!first || first.shape.length === 0) return 1;
    const hasBatchDim = this.triton ? (this.triton.config.max_batch_size ?? 0) > 0 : this.io !== null && batchable(this.io);
    return hasBatchDim ? first.shape[0] : 1;
  }

  /** Stops taking requests, lets in-flight ones finish (bounded by timeoutMs), then frees the workers. */
  async stop(timeoutMs: number): Promise<void> {
    this.state = 'UNLOADING';
    this.autoscaler?.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.batcher.idle(),
      new Promise<void>((r) => {
        timer = setTimeout(r, timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    this.batcher.failQueued(new ServeError('ServiceUnavailable', `model "${this.name}" version ${this.version} was unloaded`));
    await this.pool?.close();
  }
}
