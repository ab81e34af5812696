/**
 * What the benchmark serves and sends, built in a temp folder: the two models (a tiny MLP and the ResNet-18-shaped
 * CNN), their archives (packed with the project's own packArchive), varied 640×480 JPEGs and MLP JSON bodies.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Request } from 'autocannon';
import { packArchive } from '../../src/archive/pack.ts';
import { mlp, resnet18Shaped, seededRandom } from '../lib/onnx-models.ts';

/** Batching settings of the served models (the archives' model-config.yaml). */
export const SERVED = {
  mlp: { batchSize: 32, maxBatchDelay: 100 },
  cnn: { batchSize: 8, maxBatchDelay: 100 },
} as const;

export const MLP_INPUTS = 16;

export interface Fixtures {
  dir: string;
  store: string;
  /** The CNN archive again, stored without compression (`--archive-format zip-store`). */
  storedStore: string;
  mlpFile: string;
  cnnFile: string;
  jpegs: Buffer[];
  mlpBodies: string[];
}

/**
 * A 640×480 JPEG of smooth, varied content (a few random waves per channel plus a little noise), so that it
 * compresses and decodes like a photograph rather than like noise or a flat colour.
 */
async function photoLikeJpeg(seed: number, width = 640, height = 480): Promise<Buffer> {
  const rand = seededRandom(seed);
  const waves = Array.from({ length: 3 }, () =>
    Array.from({ length: 4 }, () => ({ fx: rand() * 0.05, fy: rand() * 0.05, phase: rand() * 6.28, amp: 20 + rand() * 40 })),
  );
  const base = [rand() * 255, rand() * 255, rand() * 255];
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++, i++) {
        let v = base[c] + (rand() - 0.5) * 12;
        for (const w of waves[c]) v += w.amp * Math.sin(w.fx * x + w.fy * y + w.phase);
        px[i] = Math.max(0, Math.min(255, v));
      }
    }
  }
  return sharp(px, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

function mlpBody(seed: number): string {
  const rand = seededRandom(1000 + seed);
  const row = Array.from({ length: MLP_INPUTS }, () => Math.round((rand() * 2 - 1) * 1e4) / 1e4);
  return JSON.stringify([row]);
}

export async function buildFixtures(dir: string): Promise<Fixtures> {
  const src = path.join(dir, 'src');
  const store = path.join(dir, 'store');
  const storedStore = path.join(dir, 'store-zip-store');
  await fs.mkdir(src, { recursive: true });
  await fs.mkdir(store, { recursive: true });
  const mlpFile = path.join(src, 'mlp.onnx');
  const cnnFile = path.join(src, 'cnn.onnx');
  await fs.writeFile(mlpFile, mlp({ inputs: MLP_INPUTS, hidden: 64, outputs: 4, seed: 1 }));
  await fs.writeFile(cnnFile, resnet18Shaped({ seed: 1 }));
  for (const [name, file, handler] of [['mlp', mlpFile, 'tensor'], ['cnn', cnnFile, 'image_classifier']] as const) {
    const cfg = path.join(src, `${name}-config.yaml`);
    const s = SERVED[name];
    await fs.writeFile(cfg, `batchSize: ${s.batchSize}\nmaxBatchDelay: ${s.maxBatchDelay}\n`);
    await packArchive({ modelName: name, version: '1.0', serializedFile: file, handler, configFile: cfg, exportPath: store });
    if (name === 'cnn') {
      await packArchive({ modelName: name, version: '1.0', serializedFile: file, handler, configFile: cfg, exportPath: storedStore, archiveFormat: 'zip-store' });
    }
  }
  const jpegs = await Promise.all(Array.from({ length: 16 }, (_, i) => photoLikeJpeg(i + 1)));
  const mlpBodies = Array.from({ length: 16 }, (_, i) => mlpBody(i));
  return { dir, store, storedStore, mlpFile, cnnFile, jpegs, mlpBodies };
}

export function jpegRequests(f: Fixtures, urlPath: string): Request[] {
  return f.jpegs.map((body) => ({ method: 'POST', path: urlPath, headers: { 'content-type': 'image/jpeg' }, body }));
}

export function jsonRequests(f: Fixtures, urlPath: string): Request[] {
  return f.mlpBodies.map((body) => ({ method: 'POST', path: urlPath, headers: { 'content-type': 'application/json' }, body }));
}
