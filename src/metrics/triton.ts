/**
 * Triton's inference metrics, so its Grafana dashboards work: `nv_inference_*` counters and the pending-request
 * gauge, labelled `model` and `version`, read at scrape time from each version's cumulative statistics (the same
 * numbers the statistics extension and gRPC ModelStatistics answer). Durations are cumulative microseconds.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DurationView, InferenceStatsView, ModelSource, ModelView } from './model-source.ts';

type Read = (s: InferenceStatsView) => number;
const us = (d: DurationView) => Math.floor(d.ns / 1000);

const COUNTERS: Array<[string, string, Read]> = [
  ['nv_inference_request_success', 'Number of successful inference requests, all batch sizes', (s) => s.success.count],
  ['nv_inference_count', 'Number of inferences performed (does not include cached requests)', (s) => s.inferenceCount],
  ['nv_inference_exec_count', 'Number of model executions performed (does not include cached requests)', (s) => s.executionCount],
  ['nv_inference_request_duration_us', 'Cumulative inference request duration in microseconds (includes cached requests)', (s) => us(s.success)],
  ['nv_inference_queue_duration_us', 'Cumulative inference queuing duration in microseconds (includes cached requests)', (s) => us(s.queue)],
  ['nv_inference_compute_input_duration_us', 'Cumulative compute input duration in microseconds (does not include cached requests)', (s) => us(s.computeInput)],
  ['nv_inference_compute_infer_duration_us', 'Cumulative compute inference duration in microseconds (does not include cached requests)', (s) => us(s.computeInfer)],
  ['nv_inference_compute_output_duration_us', 'Cumulative inference compute output duration in microseconds (does not include cached requests)', (s) => us(s.computeOutput)],
];

export function registerTritonMetrics(registry: Registry, models: () => ModelSource | undefined): void {
  const registers = [registry];
  const withStats = (): Array<ModelView & { stats: InferenceStatsView }> =>
    (models()?.all() ?? []).filter((mv): mv is ModelView & { stats: InferenceStatsView } => mv.stats !== undefined);
  for (const [name, help, read] of COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ['model', 'version'] as const,
      registers,
      collect() {
        this.reset();
        for (const mv of withStats()) this.inc({ model: mv.name, version: mv.version }, read(mv.stats));
      },
    });
  }
  new Counter({
    name: 'nv_inference_request_failure',
    help: 'Number of failed inference requests, all batch sizes',
    labelNames: ['model', 'version', 'reason'] as const,
    registers,
    collect() {
      this.reset();
      for (const mv of withStats()) {
        for (const [reason, n] of Object.entries(mv.stats.failures)) this.inc({ model: mv.name, version: mv.version, reason }, n);
      }
    },
  });
  new Gauge({
    name: 'nv_inference_pending_request_count',
    help: 'Instantaneous number of pending requests awaiting execution per-model.',
    labelNames: ['model', 'version'] as const,
    registers,
    collect() {
      this.reset();
      for (const mv of models()?.all() ?? []) this.set({ model: mv.name, version: mv.version }, mv.batcher.pending);
    },
  });
}
