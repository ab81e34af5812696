/**
 * `npm run bench:threads`: what the thread budget is worth. The CNN JPEG path at concurrency 16 with
 * workers × intra-op threads = 2 × 1 (the default on 2 cores), 1 × 2, and 2 × 2 (oversubscribed).
 * Prints requests/s and p99 for each; BENCH_DURATION sets the seconds per point.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildFixtures, jpegRequests } from './fixtures.ts';
import { measure } from './load.ts';
import { startModelServer } from './processes.ts';

const seconds = Number(process.env.BENCH_DURATION ?? 6);
const budgets = [
  { workers: 2, threads: 1 },
  { workers: 1, threads: 2 },
  { workers: 2, threads: 2 },
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-threads-'));
try {
  const f = await buildFixtures(dir);
  console.log(`CNN JPEG requests at concurrency 16, ${seconds} s per point, ${os.cpus().length} cores`);
  console.log('workers × threads | req/s | p50 ms | p99 ms');
  for (const b of budgets) {
    const server = await startModelServer({
      dir: path.join(dir, `w${b.workers}t${b.threads}`),
      store: f.store,
      archives: ['cnn.mar'],
      workers: b.workers,
      intraOpThreads: b.threads,
    });
    try {
      const p = await measure({ url: server.url, requests: jpegRequests(f, '/predictions/cnn'), concurrency: 16, seconds, warmupSeconds: 2 });
      console.log(`${b.workers} × ${b.threads} | ${p.rps.toFixed(1)} | ${p.p50.toFixed(1)} | ${p.p99.toFixed(1)}`);
    } finally {
      await server.stop();
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
