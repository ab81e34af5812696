/**
 * Where the time of one image goes, in this process, one image at a time: sharp decode + resize as the
 * hand-written server does it, the server handler's whole preprocess (decode, resize, crop, normalise), the
 * normalisation loop alone, and one onnxruntime run at batch 1 on one thread.
 */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { preprocessImage } from '../../handlers/image_classifier.ts';

export interface ImageProfile {
  /** ms per image */
  handWrittenDecodeResize: number;
  handlerPreprocess: number;
  normaliseLoop: number;
  inferBatch1OneThread: number;
  sharpThreads: number;
}

async function timeEach(n: number, f: (i: number) => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < 4; i++) await f(i);
  const start = performance.now();
  for (let i = 0; i < n; i++) await f(i);
  return (performance.now() - start) / n;
}

export async function profileImagePath(modelFile: string, jpegs: Buffer[]): Promise<ImageProfile> {
  const size = 3 * 224 * 224;
  const out = new Float32Array(size);
  const handWrittenDecodeResize = await timeEach(32, (i) =>
    sharp(jpegs[i % jpegs.length]).resize(256, 256, { fit: 'outside' }).removeAlpha().raw().toBuffer(),
  );
  const handlerPreprocess = await timeEach(32, (i) => preprocessImage(jpegs[i % jpegs.length], 224, 224, out, 0));
  const pixels = new Uint8Array(size).map((_, i) => i % 251);
  const normaliseLoop = await timeEach(64, () => {
    for (let i = 0, j = 0; i < 224 * 224; i++, j += 3) {
      out[i] = pixels[j] * 0.0171 - 2.1;
      out[i + 50176] = pixels[j + 1] * 0.0175 - 2.03;
      out[i + 100352] = pixels[j + 2] * 0.0174 - 1.8;
    }
  });
  const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feeds = { input: new ort.Tensor('float32', out, [1, 3, 224, 224]) };
  const inferBatch1OneThread = await timeEach(16, () => session.run(feeds));
  await session.release();
  return { handWrittenDecodeResize, handlerPreprocess, normaliseLoop, inferBatch1OneThread, sharpThreads: sharp.concurrency() };
}
