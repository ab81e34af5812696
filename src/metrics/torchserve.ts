/**
 * TorchServe's metrics with its names, types, units and labels (`ts/configs/metrics.yaml` in prometheus mode),
 * so that dashboards and alerts built for TorchServe work unchanged.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ModelSource } from './model-source.ts';
import { CounterSeries, GaugeSeries, PerModel } from './series.ts';

type TsLabel = 'model_name' | 'model_version' | 'hostname';
type HostLabel = 'Level' | 'Hostname';
type ModelLabel = 'ModelName' | 'Level' | 'Hostname';

/** TorchServe's worker names: `W-<port>-<model>_<version>`, its backend ports counting from 9000. */
export function workerName(model: string, version: string, workerId: number): string {
  return `W-${9000 + workerId}-${model}_${version}`;
}

export class TorchServeMetrics {
  private readonly requests: Counter<TsLabel>;
  private readonly latency: Counter<TsLabel>;
  private readonly queueLatency: Counter<TsLabel>;
  private readonly byClass: Record<string, Counter<HostLabel>>;
  private readonly queueTime: Gauge<HostLabel>;
  private readonly workerThreadTime: Gauge<HostLabel>;
  private readonly handlerTime: Gauge<ModelLabel>;
  private readonly predictionTime: Gauge<ModelLabel>;
  /** Label-bound series of the request path (series.ts): per model and requested version, per host, per model. */
  private readonly perRequest: PerModel<{ requests: CounterSeries; latency: CounterSeries; queueLatency: CounterSeries }>;
  private readonly perBatch: PerModel<{ handlerTime: GaugeSeries; predictionTime: GaugeSeries }>;
  private readonly host: { queueTime: GaugeSeries; workerThreadTime: GaugeSeries; byClass: Record<string, CounterSeries> };

  constructor(registry: Registry, private readonly hostname: string, models: () => ModelSource | undefined) {
    const registers = [registry];
    const labelNames = ['model_name', 'model_version', 'hostname'] as const;
    const hostLabels = ['Level', 'Hostname'] as const;
    const modelLabels = ['ModelName', 'Level', 'Hostname'] as const;
    this.requests = new Counter({ name: 'ts_inference_requests_total', help: 'Total number of inference requests received.', labelNames, registers });
    this.latency = new Counter({ name: 'ts_inference_latency_microseconds', help: 'Total inference latency in Microseconds.', labelNames, registers });
    this.queueLatency = new Counter({ name: 'ts_queue_latency_microseconds', help: 'Total queue latency in Microseconds.', labelNames, registers });
    const cls = (n: string, range: string) =>
      new Counter({ name: `Requests${n}XX`, help: `Total number of requests with response in ${range} status code range.`, labelNames: hostLabels, registers });
    this.byClass = { '2': cls('2', '200-300'), '4': cls('4', '400-500'), '5': cls('5', '500 and above') };
    for (const c of Object.values(this.byClass)) c.inc({ Level: 'Host', Hostname: hostname }, 0); // series exist from the start
    this.queueTime = new Gauge({ name: 'QueueTime', help: 'Time spent by the last job in the request queue in Milliseconds.', labelNames: hostLabels, registers });
    this.workerThreadTime = new Gauge({
      name: 'WorkerThreadTime',
      help: 'Time spent by the last request outside the queue and the handler (decoding, thread crossing) in Milliseconds.',
      labelNames: hostLabels,
      registers,
    });
    this.handlerTime = new Gauge({ name: 'HandlerTime', help: 'Time spent in the handler of the last batch in ms.', labelNames: modelLabels, registers });
    this.predictionTime = new Gauge({ name: 'PredictionTime', help: 'Time spent in the worker on the last batch in ms.', labelNames: modelLabels, registers });
    this.perRequest = new PerModel((model_name, model_version) => {
      const labels = { model_name, model_version, hostname };
      return {
        requests: new CounterSeries(this.requests, labels),
        latency: new CounterSeries(this.latency, labels),
        queueLatency: new CounterSeries(this.queueLatency, labels),
      };
    });
    this.perBatch = new PerModel((ModelName) => {
      const labels = { ModelName, Level: 'Model', Hostname: hostname };
      return { handlerTime: new GaugeSeries(this.handlerTime, labels), predictionTime: new GaugeSeries(this.predictionTime, labels) };
    });
    const host = { Level: 'Host', Hostname: hostname };
    this.host = {
      queueTime: new GaugeSeries(this.queueTime, host),
      workerThreadTime: new GaugeSeries(this.workerThreadTime, host),
      byClass: Object.fromEntries(Object.entries(this.byClass).map(([k, c]) => [k, new CounterSeries(c, host)])),
    };
    new Gauge({
      name: 'WorkerLoadTime',
      help: 'Time taken by a worker to load the model in Milliseconds.',
      labelNames: ['WorkerName', 'Level', 'Hostname'] as const,
      registers,
      collect() {
        this.reset();
        for (const mv of models()?.all() ?? []) {
          for (const w of mv.workers()) {
            if (w.status !== 'READY') continue;
            this.set({ WorkerName: workerName(mv.name, mv.version, w.id), Level: 'Host', Hostname: hostname }, round(w.loadMs));
          }
        }
      },
    });
  }

  /** An inference request reached a known model; TorchServe says "default" when the URL named no version. */
  received(model: string, requestedVersion: string | undefined): void {
    this.perRequest.get(model, requestedVersion ?? 'default').requests.inc();
  }

  /** An inference request was answered by its model's worker. */
  served(model: string, requestedVersion: string | undefined, totalMs: number, queueMs: number, handlerMs: number): void {
    const s = this.perRequest.get(model, requestedVersion ?? 'default');
    s.latency.inc(Math.round(totalMs * 1000));
    s.queueLatency.inc(Math.round(queueMs * 1000));
    this.host.queueTime.set(round(queueMs));
    this.host.workerThreadTime.set(round(Math.max(0, totalMs - queueMs - handlerMs)));
  }

  /** One batch came back from a worker: HandlerTime covers the hooks, PredictionTime the whole handler call. */
  batch(model: string, hooksMs: number, handlerMs: number): void {
    const s = this.perBatch.get(model, '');
    s.handlerTime.set(round(hooksMs));
    s.predictionTime.set(round(handlerMs));
  }

  /** Any response of the inference or management API, by status class. */
  response(status: number): void {
    this.host.byClass[String(Math.floor(status / 100))]?.inc();
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
