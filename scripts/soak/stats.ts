/**
 * What the soak watches in the server process: RSS (`/proc/<pid>/status` VmRSS, via the benchmark's rssBytes),
 * open file descriptors (entries of `/proc/<pid>/fd`), and the V8 heap in use if the server's own metrics API
 * publishes it (prom-client's `nodejs_heap_size_used_bytes`); the soak exposes nothing new in the server.
 */
import fs from 'node:fs';
import { rssBytes } from '../bench/processes.ts';

export const HEAP_METRIC = 'nodejs_heap_size_used_bytes';

export interface ProcessStats {
  rss: number;
  fds: number;
  /** Undefined when the metrics API has no heap metric. */
  heapUsed?: number;
}

export function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** The heap in use according to the metrics API, or undefined if it does not publish one. */
export async function heapFromMetrics(metricsUrl: string): Promise<number | undefined> {
  const res = await fetch(`${metricsUrl}/metrics?name[]=${HEAP_METRIC}`).catch(() => undefined);
  if (!res || res.status !== 200) return undefined;
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(HEAP_METRIC) && !l.startsWith('#'));
  const value = line ? Number(line.trim().split(/\s+/).at(-1)) : NaN;
  return Number.isFinite(value) ? value : undefined;
}

export async function processStats(pid: number, metricsUrl: string): Promise<ProcessStats> {
  return { rss: rssBytes(pid), fds: openFds(pid), heapUsed: await heapFromMetrics(metricsUrl) };
}
