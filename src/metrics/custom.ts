/**
 * Custom metrics that handlers record through `ctx.metrics` (addCounter, setGauge, observe). Each becomes a
 * prom-client metric named as the handler named it, labelled `model_name`, `model_version` and the handler's
 * labels. What cannot be a valid Prometheus series (a bad name or label, a non-finite value, a negative
 * counter step, a name the server or another kind already uses, a label set differing from the first use) is
 * dropped with one warning per metric and reason.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CustomMetric } from '../pool/messages.ts';
import { LABEL_NAME, METRIC_NAME } from './model-source.ts';

/** For handler observations, which are typically milliseconds. */
const BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
const RESERVED = new Set(['model_name', 'model_version']);
const MAX_WARNINGS = 1000;

type Kind = CustomMetric['kind'];
type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

interface Entry {
  kind: Kind;
  labelNames: Set<string>;
  metric: AnyMetric;
}

export type Warn = (msg: string, extra: Record<string, unknown>) => void;

export class CustomMetrics {
  private readonly entries = new Map<string, Entry>();
  private readonly warned = new Set<string>();

  constructor(private readonly registry: Registry, private readonly warn: Warn) {}

  record(model: string, version: string, m: CustomMetric): void {
    const problem = this.problemWith(m);
    if (problem) return this.warnOnce(model, version, m, problem);
    const labelKeys = Object.keys(m.labels ?? {});
    let entry = this.entries.get(m.name);
    if (!entry) {
      if (this.registry.getSingleMetric(m.name)) return this.warnOnce(model, version, m, 'the name is taken by a server metric');
      entry = this.create(m.kind, m.name, labelKeys);
      this.entries.set(m.name, entry);
    }
    if (entry.kind !== m.kind) return this.warnOnce(model, version, m, `it was first recorded as a ${entry.kind}`);
    if (labelKeys.length !== entry.labelNames.size - RESERVED.size || labelKeys.some((k) => !entry.labelNames.has(k))) {
      return this.warnOnce(model, version, m, `its labels differ from its first use (${[...entry.labelNames].join(', ')})`);
    }
    const labels: Record<string, string> = { model_name: model, model_version: version };
    for (const k of labelKeys) labels[k] = String(m.labels[k]);
    if (entry.kind === 'counter') (entry.metric as Counter<string>).inc(labels, m.value);
    else if (entry.kind === 'gauge') (entry.metric as Gauge<string>).set(labels, m.value);
    else (entry.metric as Histogram<string>).observe(labels, m.value);
  }

  private problemWith(m: CustomMetric): string | undefined {
    if (typeof m.name !== 'string' || !METRIC_NAME.test(m.name)) return 'it is not a valid Prometheus metric name';
    if (typeof m.value !== 'number' || !Number.isFinite(m.value)) return `its value ${String(m.value)} is not a finite number`;
    if (m.kind === 'counter' && m.value < 0) return 'a counter cannot decrease';
    if (m.labels !== undefined && (typeof m.labels !== 'object' || m.labels === null)) return 'its labels are not an object';
    for (const [k, v] of Object.entries(m.labels ?? {})) {
      if (!LABEL_NAME.test(k) || k.startsWith('__')) return `label "${k}" is not a valid Prometheus label name`;
      if (RESERVED.has(k)) return `label "${k}" is set by the server`;
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return `label "${k}" is not a string`;
    }
    return undefined;
  }

  private create(kind: Kind, name: string, labelKeys: string[]): Entry {
    const labelNames = ['model_name', 'model_version', ...labelKeys];
    const common = { name, labelNames, registers: [this.registry] };
    const metric =
      kind === 'counter'
        ? new Counter({ ...common, help: `Custom counter ${name} recorded by model handlers.` })
        : kind === 'gauge'
          ? new Gauge({ ...common, help: `Custom gauge ${name} recorded by model handlers.` })
          : new Histogram({ ...common, buckets: BUCKETS, help: `Custom histogram ${name} recorded by model handlers.` });
    return { kind, labelNames: new Set(labelNames), metric };
  }

  private warnOnce(model: string, version: string, m: CustomMetric, reason: string): void {
    const key = `${String(m.name)}\u0000${m.kind}\u0000${reason}`;
    if (this.warned.has(key) || this.warned.size >= MAX_WARNINGS) return;
    this.warned.add(key);
    this.warn(`custom metric "${String(m.name)}" dropped: ${reason}`, { model, version, metric: String(m.name), kind: m.kind });
  }
}
