/**
 * Label-bound series of prom-client metrics, for the per-request path. prom-client validates and hashes the label
 * object on every update (and a histogram allocates a closure per observation); with eight updates per inference
 * request that was a tenth of the main thread at high request rates. A series finds its entry in the metric once
 * and then updates it in place, exactly as prom-client would (counters add, gauges replace, histograms count the
 * first bucket whose bound is ≥ the value, sum and count).
 *
 * This reads prom-client 15's `hashMap` of entries (`{labels, value}`, `{labels, bucketValues, sum, count}`). Every
 * update checks that the metric still holds the entry it found; after a reset or a removal, and for any value
 * prom-client would refuse, the update goes through prom-client's public method (which throws as it did) and the
 * entry is found again. The exposition tests in test/metrics/ pin names, labels and values.
 */
import type { Counter, Gauge, Histogram } from 'prom-client';

type Labels = Record<string, string>;

interface Entry {
  labels: Record<string, string | number>;
  value: number;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

interface Internals {
  hashMap: Record<string, Entry>;
  upperBounds: readonly number[];
}

const internals = (m: object) => m as unknown as Internals;

function sameLabels(a: Record<string, string | number>, b: Labels): boolean {
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  return n === Object.keys(b).length;
}

abstract class Series {
  private key = '';
  protected entry: Entry | undefined;

  constructor(
    private readonly metric: object,
    protected readonly labels: Labels,
  ) {}

  /** The entry, when the metric still holds the one found before. */
  protected current(): Entry | undefined {
    const e = internals(this.metric).hashMap[this.key];
    return e !== undefined && e === this.entry ? e : undefined;
  }

  /** After a public update: finds the entry of these labels. */
  protected bind(): void {
    const map = internals(this.metric).hashMap;
    for (const key in map) {
      if (sameLabels(map[key].labels, this.labels)) {
        this.key = key;
        this.entry = map[key];
        return;
      }
    }
    this.entry = undefined;
  }
}

export class CounterSeries extends Series {
  constructor(private readonly counter: Counter<string>, labels: Labels) {
    super(counter, labels);
  }

  inc(value = 1): void {
    const e = this.current();
    if (e !== undefined && value >= 0 && Number.isFinite(value)) {
      e.value += value;
      return;
    }
    this.counter.inc(this.labels, value);
    this.bind();
  }
}

export class GaugeSeries extends Series {
  constructor(private readonly gauge: Gauge<string>, labels: Labels) {
    super(gauge, labels);
  }

  set(value: number): void {
    const e = this.current();
    if (e !== undefined && typeof value === 'number') {
      e.value = value;
      return;
    }
    this.gauge.set(this.labels, value);
    this.bind();
  }
}

export class HistogramSeries extends Series {
  private readonly bounds: readonly number[];

  constructor(private readonly histogram: Histogram<string>, labels: Labels) {
    super(histogram, labels);
    this.bounds = internals(histogram).upperBounds;
  }

  observe(value: number): void {
    const e = this.current();
    if (e === undefined || !Number.isFinite(value)) {
      this.histogram.observe(this.labels, value);
      this.bind();
      return;
    }
    e.sum += value;
    e.count += 1;
    for (const bound of this.bounds) {
      if (value <= bound) {
        e.bucketValues[bound] += 1;
        return;
      }
    }
  }
}

/** A cache of per-label-set values (series bundles) keyed by model name and version. */
export class PerModel<T> {
  private readonly byModel = new Map<string, Map<string, T>>();

  constructor(private readonly make: (model: string, version: string) => T) {}

  get(model: string, version: string): T {
    let versions = this.byModel.get(model);
    if (versions === undefined) this.byModel.set(model, (versions = new Map()));
    let v = versions.get(version);
    if (v === undefined) versions.set(version, (v = this.make(model, version)));
    return v;
  }
}
