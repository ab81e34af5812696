/**
 * The load phase: every target is measured at each concurrency in turn (target A at c=1, target B at c=1, …,
 * then c=8), so that a slow drift of the machine hits the server and its baseline alike and their ratio holds.
 */
import type { Request } from 'autocannon';
import { quietest } from './cpu-share.ts';
import { measure, type LoadPoint } from './load.ts';
import type { ModelServer, Running } from './processes.ts';
import type { Noted } from './report.ts';
import { batchCounter, meanBatch } from './server-costs.ts';

export interface LoadTarget {
  name: string;
  process: Running;
  requests: Request[];
  /** For the model server: the model whose batch sizes to read. */
  model?: { server: ModelServer; name: string };
}

export type SweepPoint = Noted<LoadPoint> & { meanBatch?: number };

export interface SweepOptions {
  concurrency: number[];
  seconds: number;
  warmupSeconds: number;
  say: (m: string) => void;
}

function describe(name: string, p: SweepPoint): string {
  return `  ${name} c=${p.concurrency}: ${p.rps.toFixed(1)} req/s, p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms` +
    `${p.meanBatch === undefined ? '' : `, mean batch ${p.meanBatch.toFixed(2)}`}` +
    `${p.failed ? `, ${p.failed} failed ${JSON.stringify(p.failures)}` : ''}, other CPU ${p.otherCpu.toFixed(0)}%`;
}

export async function interleavedSweep(targets: LoadTarget[], o: SweepOptions): Promise<{ points: Record<string, SweepPoint[]>; batchSource: string }> {
  const points: Record<string, SweepPoint[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
  let batchSource = 'none';
  for (const concurrency of o.concurrency) {
    for (const t of targets) {
      const load = { url: t.process.url, requests: t.requests, concurrency };
      await measure({ ...load, seconds: o.warmupSeconds });
      const p = await quietest([t.process.pid], async (): Promise<LoadPoint & { meanBatch?: number }> => {
        if (!t.model) return measure({ ...load, seconds: o.seconds });
        const before = await batchCounter(t.model.server, t.model.name);
        const point = await measure({ ...load, seconds: o.seconds });
        const after = await batchCounter(t.model.server, t.model.name);
        batchSource = after.source;
        return { ...point, meanBatch: meanBatch(before, after) };
      }, o.say);
      o.say(describe(t.name, p));
      points[t.name].push(p);
    }
  }
  return { points, batchSource };
}
