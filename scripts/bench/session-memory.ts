/**
 * RSS of onnxruntime sessions of the ResNet-18-shaped CNN, one per worker thread, and the time of one batch: the
 * measurement behind the server's malloc settings and CPU-arena default (docs/architecture.md, "Memory per worker").
 *
 *   npm run bench:session-memory -- [sessions=3] [session options JSON, e.g. '{"enableCpuMemArena":false}']
 *   GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072:glibc.malloc.hugetlb=1 \
 *     npm run bench:session-memory -- 3 '{"enableCpuMemArena":false}'
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { resnet18Shaped } from '../lib/onnx-models.ts';

const sessions = Number(process.argv[2] ?? 3);
const options = JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>;
const BATCH = 8;

function rssMB(): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
}

// Plain JavaScript in the thread: the measurement should not include a TypeScript loader.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
(async () => {
  const s = await ort.InferenceSession.create(workerData.model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', ...workerData.options,
  });
  parentPort.postMessage('loaded');
  parentPort.on('message', async () => {
    const n = workerData.batch;
    const x = new ort.Tensor('float32', new Float32Array(n * 3 * 224 * 224).fill(0.5), [n, 3, 224, 224]);
    const t = performance.now();
    await s.run({ [s.inputNames[0]]: x });
    parentPort.postMessage(performance.now() - t);
  });
})();
`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-memory-'));
try {
  const model = path.join(dir, 'cnn.onnx');
  fs.writeFileSync(model, resnet18Shaped({ seed: 1 }));
  const ort = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'node_modules', 'onnxruntime-node');
  console.log(`GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? ''} options=${JSON.stringify(options)}; model ${(fs.statSync(model).size / 2 ** 20).toFixed(1)} MB`);
  const base = rssMB();
  console.log(`no session: ${base.toFixed(0)} MB`);
  const workers: Worker[] = [];
  const loaded: number[] = [];
  for (let i = 0; i < sessions; i++) {
    const w = new Worker(WORKER, { eval: true, workerData: { ort, model, options, batch: BATCH } });
    await new Promise((r) => w.once('message', r));
    workers.push(w);
    loaded.push(rssMB());
    console.log(`${i + 1} session(s) loaded: ${loaded[i].toFixed(0)} MB`);
  }
  const runMs: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (const w of workers) {
      w.postMessage('run');
      runMs.push(await new Promise<number>((r) => w.once('message', r)));
    }
  }
  if (sessions > 1) console.log(`per added session after load: ${((loaded[sessions - 1] - loaded[0]) / (sessions - 1)).toFixed(0)} MB`);
  console.log(`after 3 batches of ${BATCH} per session: ${rssMB().toFixed(0)} MB`);
  const later = runMs.slice(sessions).sort((a, b) => a - b);
  console.log(`batch of ${BATCH}, 1 thread: median ${later[later.length >> 1].toFixed(1)} ms (first runs excluded)`);
  await Promise.all(workers.map((w) => w.terminate()));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
