/**
 * The ceilings the server is compared with, measured without HTTP: raw onnxruntime-node in this process at
 * batch 1, 8 and 32, and the whole image path in Piscina worker threads.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { Piscina } from 'piscina';
import { HANDWRITTEN } from './processes.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const ext = path.extname(fileURLToPath(import.meta.url)); // .ts under tsx, .js when built

export interface RawPoint {
  batch: number;
  threads: number;
  msPerRun: number;
  /** Rows (requests' worth of items) per second. */
  itemsPerSec: number;
}

/** Runs one session back to back for about `seconds` at each batch size. */
export async function rawInference(
  modelFile: string,
  rowSize: number,
  dims: number[],
  batches: number[],
  threads: number,
  seconds: number,
): Promise<RawPoint[]> {
  const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const name = session.inputNames[0];
  const out: RawPoint[] = [];
  try {
    for (const batch of batches) {
      const data = Float32Array.from({ length: batch * rowSize }, (_, i) => Math.sin(i * 0.37));
      const feeds = { [name]: new ort.Tensor('float32', data, [batch, ...dims]) };
      for (let i = 0; i < 2; i++) await session.run(feeds);
      let runs = 0;
      const start = performance.now();
      while (runs < 3 || performance.now() - start < seconds * 1000) {
        await session.run(feeds);
        runs++;
      }
      const ms = (performance.now() - start) / runs;
      out.push({ batch, threads, msPerRun: ms, itemsPerSec: (batch * 1000) / ms });
    }
  } finally {
    await session.release();
  }
  return out;
}

export interface ImagePathPoint {
  pipeline: 'hand-written' | 'server handler';
  batch: number;
  workers: number;
  imagesPerSec: number;
}

/**
 * Keeps 2 tasks per worker in flight for about `seconds` and counts images classified. `pipeline` picks the
 * worker: the hand-written server's own worker file, or the server's handler pipeline (image-path-worker.ts).
 */
export async function imagePath(
  pipeline: ImagePathPoint['pipeline'],
  modelFile: string,
  jpegs: Buffer[],
  batch: number,
  workers: number,
  seconds: number,
): Promise<ImagePathPoint> {
  const file = pipeline === 'hand-written' ? path.join(path.dirname(HANDWRITTEN), 'handwritten-worker.mjs') : path.join(here, `image-path-worker${ext}`);
  const pool = new Piscina({ filename: pathToFileURL(file).href, minThreads: workers, maxThreads: workers, workerData: { model: modelFile } });
  let next = 0;
  const task = () => {
    const images = Array.from({ length: batch }, () => jpegs[next++ % jpegs.length]);
    return pipeline === 'hand-written' ? pool.run(images[0]) : pool.run(images);
  };
  try {
    await Promise.all(Array.from({ length: workers * 2 }, task)); // warm-up: sessions created, code hot
    let images = 0;
    const start = performance.now();
    const end = start + seconds * 1000;
    const lane = async () => {
      while (performance.now() < end) {
        await task();
        images += batch;
      }
    };
    await Promise.all(Array.from({ length: workers * 2 }, lane));
    return { pipeline, batch, workers, imagesPerSec: (images * 1000) / (performance.now() - start) };
  } finally {
    await pool.destroy();
  }
}

export function cores(): number {
  return os.availableParallelism();
}
