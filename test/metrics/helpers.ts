/**
 * Helpers for the metrics and log tests: a server whose log lines are captured, and /metrics parsing.
 */
import { createLogger } from '../../src/log.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { testConfig, type TestStore } from '../helpers/server.ts';

export interface CapturedServer {
  server: RunningServer;
  /** Every log line written so far, parsed. */
  lines(): Array<Record<string, unknown>>;
}

/** Like startTestServer, with the server's log lines (at `level`) kept in memory. */
export async function startCapturedServer(store: TestStore, models: string[], props: Record<string, string> = {}, level = 'info'): Promise<CapturedServer> {
  const config = testConfig(store, models, props);
  const raw: string[] = [];
  const log = createLogger(level, { write: (s: string) => void raw.push(s) });
  const server = await startServer(config, { log });
  return { server, lines: () => raw.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text (0.0.4) into samples. */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Samples of `name` whose labels include `labels`. */
export function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample of `name` with `labels` (undefined when absent). */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = find(samples, name, labels);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

export async function scrape(server: RunningServer, query = ''): Promise<Sample[]> {
  const res = await fetch(`${server.metricsUrl}/metrics${query}`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parseMetrics(await res.text());
}

/**
 * Scrapes until `ready` holds. Custom metrics travel from worker threads on a BroadcastChannel, which may
 * deliver after the response they were recorded for; this waits for delivery, not for a time.
 */
export async function scrapeUntil(server: RunningServer, ready: (s: Sample[]) => boolean, tries = 200): Promise<Sample[]> {
  let s = await scrape(server);
  for (let i = 0; i < tries && !ready(s); i++) {
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
    s = await scrape(server);
  }
  return s;
}
