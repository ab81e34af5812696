/** prom-client metrics with TorchServe's names and labels, on a registry of the server's own. */
import os from 'node:os';
import { Counter, Registry } from 'prom-client';

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly hostname = os.hostname();
  private readonly requests: Counter<'model_name' | 'model_version' | 'hostname'>;
  private readonly latency: Counter<'model_name' | 'model_version' | 'hostname'>;
  private readonly queueLatency: Counter<'model_name' | 'model_version' | 'hostname'>;
  private readonly byClass: Record<'2' | '4' | '5', Counter<'Level' | 'Hostname'>>;

  constructor() {
    const labelNames = ['model_name', 'model_version', 'hostname'] as const;
    const registers = [this.registry];
    this.requests = new Counter({ name: 'ts_inference_requests_total', help: 'Total number of inference requests.', labelNames, registers });
    this.latency = new Counter({ name: 'ts_inference_latency_microseconds', help: 'Cumulative inference duration in microseconds', labelNames, registers });
    this.queueLatency = new Counter({ name: 'ts_queue_latency_microseconds', help: 'Cumulative queue duration in microseconds', labelNames, registers });
    const cls = (n: string) =>
      new Counter({ name: `Requests${n}XX`, help: `Total number of requests with response in ${n}00-${n}99 status code range`, labelNames: ['Level', 'Hostname'] as const, registers });
    this.byClass = { '2': cls('2'), '4': cls('4'), '5': cls('5') };
  }

  /** One answered inference request. */
  inference(model: string, version: string | undefined, totalMs: number, queueMs: number): void {
    const labels = { model_name: model, model_version: version ?? 'default', hostname: this.hostname };
    this.requests.inc(labels);
    this.latency.inc(labels, Math.round(totalMs * 1000));
    this.queueLatency.inc(labels, Math.round(queueMs * 1000));
  }

  /** Any response of the inference or management API, by status class. */
  response(status: number): void {
    const c = this.byClass[String(Math.floor(status / 100)) as '2' | '4' | '5'];
    c?.inc({ Level: 'Host', Hostname: this.hostname });
  }
}
