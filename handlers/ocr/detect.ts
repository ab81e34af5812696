/**
 * Text detection with a PP-OCR DB (differentiable binarisation) model: preprocessing as PaddleOCR does it
 * (long side limited, both sides multiples of 32, BGR channel order with the ImageNet mean/std applied in that
 * order), then the DB post-processing: threshold, connected components, minimum-area box, box score, unclip.
 */
import sharp from 'sharp';
import type { InferenceSession } from 'onnxruntime-node';
import type { HandlerContext } from '../../src/handler/contract.ts';
import { convexHull, distance, insideQuad, minAreaRect, orderQuad, rectCorners, type Point, type Quad } from './geometry.ts';

/** A decoded image: 3 channels, RGB, row-major. */
export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
}

export interface DetectOptions {
  /** The long side is scaled down to at most this many pixels (PaddleOCR `det_limit_side_len`). */
  limitSideLen: number;
  /** Probability threshold of the binary map (`det_db_thresh`). */
  thresh: number;
  /** Minimum mean probability inside a box (`det_db_box_thresh`). */
  boxThresh: number;
  /** Expansion of a box: distance = area × ratio / perimeter (`det_db_unclip_ratio`). */
  unclipRatio: number;
  maxCandidates: number;
}

// PaddleOCR reads images with OpenCV (BGR) and applies these (ImageNet RGB) values channel by channel: so the
// blue channel gets 0.485/0.229. The model was trained that way; copy it, quirk included.
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const MIN_SIZE = 3;

/** Finds text boxes; returns quads in the image's pixel coordinates (not yet in reading order). */
export async function detect(
  image: RgbImage,
  session: InferenceSession,
  ctx: HandlerContext,
  opts: DetectOptions,
): Promise<Quad[]> {
  const { width: W, height: H } = image;
  const ratio = Math.max(W, H) > opts.limitSideLen ? opts.limitSideLen / Math.max(W, H) : 1;
  const rw = Math.max(32, Math.round((W * ratio) / 32) * 32);
  const rh = Math.max(32, Math.round((H * ratio) / 32) * 32);
  const pixels =
    rw === W && rh === H
      ? image.data
      : await sharp(image.data, { raw: { width: W, height: H, channels: 3 } })
          .resize(rw, rh, { fit: 'fill' })
          .raw()
          .toBuffer();

  const plane = rw * rh;
  const input = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    input[i] = (pixels[3 * i + 2] / 255 - MEAN[0]) / STD[0]; // B
    input[plane + i] = (pixels[3 * i + 1] / 255 - MEAN[1]) / STD[1]; // G
    input[2 * plane + i] = (pixels[3 * i] / 255 - MEAN[2]) / STD[2]; // R
  }
  const out = await session.run({ [session.inputNames[0]]: new ctx.Tensor('float32', input, [1, 3, rh, rw]) });
  const prob = out[session.outputNames[0]].data as Float32Array;

  const sx = W / rw;
  const sy = H / rh;
  const boxes: Quad[] = [];
  for (const q of boxesFromProbabilities(prob, rw, rh, opts)) {
    const scaled = orderQuad(
      q.map(([x, y]): Point => [clamp(Math.round(x * sx), 0, W - 1), clamp(Math.round(y * sy), 0, H - 1)]),
    );
    if (distance(scaled[0], scaled[1]) <= MIN_SIZE || distance(scaled[0], scaled[3]) <= MIN_SIZE) continue;
    boxes.push(scaled);
  }
  return boxes;
}

/** DB post-processing on a w×h probability map; quads in map coordinates. */
export function boxesFromProbabilities(prob: Float32Array, w: number, h: number, opts: DetectOptions): Quad[] {
  const labels = new Int32Array(w * h); // 0: not yet visited
  const stack = new Int32Array(w * h);
  // Each row's leftmost and rightmost pixel of the current component: the hull of those is the component's hull.
  const rowMin = new Int32Array(h).fill(w);
  const rowMax = new Int32Array(h).fill(-1);
  const boxes: Quad[] = [];
  let components = 0;
  for (let start = 0; start < w * h && components < opts.maxCandidates; start++) {
    if (labels[start] !== 0 || !(prob[start] > opts.thresh)) continue;
    const label = ++components;
    // Flood-fill one 8-connected component.
    let top = 0;
    let minY = h;
    let maxY = -1;
    stack[top++] = start;
    labels[start] = label;
    while (top > 0) {
      const p = stack[--top];
      const x = p % w;
      const y = (p - x) / w;
      if (x < rowMin[y]) rowMin[y] = x;
      if (x > rowMax[y]) rowMax[y] = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= w) continue;
          const n = ny * w + nx;
          if (labels[n] === 0 && prob[n] > opts.thresh) {
            labels[n] = label;
            stack[top++] = n;
          }
        }
      }
    }
    const points: Point[] = [];
    for (let y = minY; y <= maxY; y++) {
      if (rowMax[y] >= 0) points.push([rowMin[y], y], [rowMax[y], y]);
      rowMin[y] = w;
      rowMax[y] = -1;
    }
    const rect = minAreaRect(convexHull(points));
    if (!rect || Math.min(rect.w, rect.h) < MIN_SIZE) continue;
    if (boxScore(prob, w, h, rectCorners(rect)) < opts.boxThresh) continue;
    // Unclip: offsetting a rectangle by d grows each side by 2d (d = area × ratio / perimeter).
    const d = (rect.w * rect.h * opts.unclipRatio) / (2 * (rect.w + rect.h));
    const grown = { ...rect, w: rect.w + 2 * d, h: rect.h + 2 * d };
    if (Math.min(grown.w, grown.h) < MIN_SIZE + 2) continue;
    boxes.push(rectCorners(grown));
  }
  return boxes;
}

/** Mean probability over the pixels inside the quad (PaddleOCR's `box_score_fast`). */
function boxScore(prob: Float32Array, w: number, h: number, q: Quad): number {
  const xs = q.map((p) => p[0]);
  const ys = q.map((p) => p[1]);
  const x0 = clamp(Math.floor(Math.min(...xs)), 0, w - 1);
  const x1 = clamp(Math.ceil(Math.max(...xs)), 0, w - 1);
  const y0 = clamp(Math.floor(Math.min(...ys)), 0, h - 1);
  const y1 = clamp(Math.ceil(Math.max(...ys)), 0, h - 1);
  let sum = 0;
  let n = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!insideQuad(q, x, y, 0.5)) continue;
      sum += prob[y * w + x];
      n++;
    }
  }
  return n === 0 ? 0 : sum / n;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
