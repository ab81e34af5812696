// The hand-written server's worker: the image path as a user would write it with sharp and onnxruntime-node.
// Decode, resize the shorter side to 256, centre-crop 224×224, ImageNet-normalise, infer one image, top 5.
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import { workerData } from 'piscina';

const session = await ort.InferenceSession.create(workerData.model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const SIZE = 224;

export default async function classify(bytes) {
  const { data, info } = await sharp(bytes)
    .resize(256, 256, { fit: 'outside' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const left = (info.width - SIZE) >> 1;
  const top = (info.height - SIZE) >> 1;
  const plane = SIZE * SIZE;
  const input = new Float32Array(3 * plane);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const src = ((top + y) * info.width + left + x) * 3;
      for (let c = 0; c < 3; c++) input[c * plane + y * SIZE + x] = (data[src + c] / 255 - MEAN[c]) / STD[c];
    }
  }
  const { output } = await session.run({ input: new ort.Tensor('float32', input, [1, 3, SIZE, SIZE]) });
  const logits = Array.from(output.data);
  const max = Math.max(...logits);
  const exps = logits.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps
    .map((e, i) => [String(i), e / sum])
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5);
}
