/**
 * Piscina worker for the image-path ceiling: the server's own image pipeline (the image_classifier handler's
 * preprocessImage: decode, resize, crop, normalise) and one onnxruntime run per task, with no HTTP and no batcher.
 */
import * as ort from 'onnxruntime-node';
import { workerData } from 'piscina';
import { preprocessImage } from '../../handlers/image_classifier.ts';

const SIZE = 224;
// Created on first use: a top-level await would make Piscina load this file through the ESM loader, which tsx
// does not hook in worker threads on Node 20.
let session: Promise<ort.InferenceSession> | undefined;

/** Classifies a batch of encoded images; returns how many rows came out. */
export default async function run(images: Uint8Array[]): Promise<number> {
  const size = 3 * SIZE * SIZE;
  const batch = new Float32Array(size * images.length);
  await Promise.all(images.map((bytes, i) => preprocessImage(bytes, SIZE, SIZE, batch, i * size)));
  session ??= ort.InferenceSession.create(workerData.model as string, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const { output } = await (await session).run({ input: new ort.Tensor('float32', batch, [images.length, 3, SIZE, SIZE]) });
  return output.dims[0];
}
