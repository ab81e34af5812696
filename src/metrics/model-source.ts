/**
 * What the metrics room reads at scrape time about the served model versions. The registry's ModelVersion
 * satisfies it structurally, so this room never imports the registry.
 */
export interface ModelView {
  readonly name: string;
  readonly version: string;
  readonly readyWorkers: number;
  readonly batcher: { readonly pending: number; readonly active: number };
  workers(): ReadonlyArray<{ id: number; loadMs: number; status: string }>;
  /** Triton's cumulative inference statistics (registry/inference-stats.ts), read for the nv_inference_* metrics. */
  readonly stats?: InferenceStatsView;
}

export interface DurationView {
  readonly count: number;
  readonly ns: number;
}

export interface InferenceStatsView {
  readonly success: DurationView;
  readonly fail: DurationView;
  readonly queue: DurationView;
  readonly computeInput: DurationView;
  readonly computeInfer: DurationView;
  readonly computeOutput: DurationView;
  readonly inferenceCount: number;
  readonly executionCount: number;
  readonly failures: Readonly<Record<string, number>>;
}

export interface ModelSource {
  all(): ModelView[];
}

/** Prometheus metric and label names (`[a-zA-Z_:][a-zA-Z0-9_:]*`, labels without `:` and not `__`-prefixed). */
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
