/**
 * Text recognition with a PP-OCR CTC recogniser: each detected box is cut out straight (sampled along its own
 * axes), turned upright when it is much taller than wide, resized to height 48 keeping its aspect ratio,
 * normalised to [-1, 1] in BGR order, batched and decoded.
 */
import sharp from 'sharp';
import type { InferenceSession } from 'onnxruntime-node';
import type { HandlerContext } from '../../src/handler/contract.ts';
import { ctcGreedyDecode, type Recognised } from './ctc.ts';
import type { RgbImage } from './detect.ts';
import { distance, type Quad } from './geometry.ts';

export const LINE_HEIGHT = 48;
/** Line images are right-padded to a multiple of this width. */
const PAD_STEP = 32;

export interface RecogniseOptions {
  /** Widest line image fed to the recogniser; longer lines are squeezed to fit. */
  maxWidth: number;
  /** Lines per recogniser run. */
  batchSize: number;
}

/** A text line ready for the recogniser: RGB, `width` × LINE_HEIGHT. */
export interface LineImage {
  data: Buffer;
  width: number;
}

/** Cuts the quad out of the image, upright, and resizes it to the recogniser's height. */
export async function cropLine(image: RgbImage, quad: Quad, maxWidth: number): Promise<LineImage> {
  const [tl, tr, br, bl] = quad;
  const boxW = Math.max(1, Math.round(Math.max(distance(tl, tr), distance(bl, br))));
  const boxH = Math.max(1, Math.round(Math.max(distance(tl, bl), distance(tr, br))));
  const across: [number, number] = [(tr[0] - tl[0]) / boxW, (tr[1] - tl[1]) / boxW]; // one pixel along the top edge
  const down: [number, number] = [(bl[0] - tl[0]) / boxH, (bl[1] - tl[1]) / boxH]; // one pixel down the left edge

  // Output pixel (x, y) samples origin + x·dx + y·dy. A tall box (vertical text) is turned 90° counter-clockwise.
  const vertical = boxH >= 1.5 * boxW;
  const w = vertical ? boxH : boxW;
  const h = vertical ? boxW : boxH;
  const origin = vertical ? tr : tl;
  const dx = vertical ? down : across;
  const dy: [number, number] = vertical ? [-across[0], -across[1]] : down;

  const src = image.data;
  const W = image.width;
  const H = image.height;
  const out = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = Math.min(W - 1, Math.max(0, origin[0] + x * dx[0] + y * dy[0]));
      const sy = Math.min(H - 1, Math.max(0, origin[1] + x * dx[1] + y * dy[1]));
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(W - 1, x0 + 1);
      const y1 = Math.min(H - 1, y0 + 1);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let c = 0; c < 3; c++) {
        const top = src[(y0 * W + x0) * 3 + c] * (1 - fx) + src[(y0 * W + x1) * 3 + c] * fx;
        const bottom = src[(y1 * W + x0) * 3 + c] * (1 - fx) + src[(y1 * W + x1) * 3 + c] * fx;
        out[(y * w + x) * 3 + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  const width = Math.min(maxWidth, Math.max(1, Math.ceil((LINE_HEIGHT * w) / h)));
  const data = await sharp(out, { raw: { width: w, height: h, channels: 3 } })
    .resize(width, LINE_HEIGHT, { fit: 'fill' })
    .raw()
    .toBuffer();
  return { data, width };
}

/**
 * Recognises every line; results in the order of `lines`. Each line is right-padded to the next multiple of
 * PAD_STEP and batched only with lines of the same padded width: the recogniser mixes information along the
 * whole line, so extra padding changes its output (spaces first). This way a line's text never depends on
 * which other lines shared its batch.
 */
export async function recognise(
  lines: LineImage[],
  session: InferenceSession,
  ctx: HandlerContext,
  charset: string[],
  opts: RecogniseOptions,
): Promise<Recognised[]> {
  const results: Recognised[] = new Array(lines.length);
  const padded = lines.map((l) => Math.ceil(l.width / PAD_STEP) * PAD_STEP);
  const order = lines.map((_, i) => i).sort((a, b) => padded[a] - padded[b]);
  for (let start = 0; start < order.length; ) {
    const batchW = padded[order[start]];
    let end = start;
    while (end < order.length && end - start < opts.batchSize && padded[order[end]] === batchW) end++;
    const chunk = order.slice(start, end);
    start = end;
    const size = LINE_HEIGHT * batchW; // one channel of one line
    const input = new Float32Array(chunk.length * 3 * size); // zero = mid-grey padding, as PaddleOCR pads
    chunk.forEach((lineIndex, n) => {
      const { data, width } = lines[lineIndex];
      const base = n * 3 * size;
      for (let y = 0; y < LINE_HEIGHT; y++) {
        for (let x = 0; x < width; x++) {
          const p = (y * width + x) * 3;
          const q = base + y * batchW + x;
          input[q] = data[p + 2] / 127.5 - 1; // B
          input[q + size] = data[p + 1] / 127.5 - 1; // G
          input[q + 2 * size] = data[p] / 127.5 - 1; // R
        }
      }
    });
    const feeds = { [session.inputNames[0]]: new ctx.Tensor('float32', input, [chunk.length, 3, LINE_HEIGHT, batchW]) };
    const output = (await session.run(feeds))[session.outputNames[0]];
    const [, steps, classes] = output.dims;
    const probs = output.data as Float32Array;
    chunk.forEach((lineIndex, n) => {
      results[lineIndex] = ctcGreedyDecode(probs, n * steps * classes, steps, classes, charset);
    });
  }
  return results;
}
