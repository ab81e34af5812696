/**
 * Built-in `image_classifier` handler, after TorchServe's: decode (EXIF-oriented, alpha flattened, sRGB),
 * resize the shorter side to 256, centre-crop 224, ImageNet normalisation, one batched run, softmax, top 5 as
 * one `{label: probability}` object per request in descending order of probability.
 *
 * A model whose input has fixed H×W other than 224 gets the same recipe scaled: shorter side to
 * round(min(H,W)·256/224), centre crop H×W. Labels come from `index_to_name.json`, else the class index.
 * Model config keys: `topk` (default 5), `limit_max_image_pixels` (default 89,478,485, PIL's limit).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type SharpOptions } from 'sharp';
import type { Handler, HandlerContext, RequestInput } from '../src/handler/contract.ts';
import { headerSize, type Size } from './image/header.ts';
import { formEncodedImage, noImage } from './image/no-image.ts';

const MEAN = [0.485, 0.456, 0.406] as const;
const STD = [0.229, 0.224, 0.225] as const;
const DEFAULT_TOPK = 5;
const DEFAULT_PIXEL_LIMIT = 89_478_485;

/** Channel c of a normalised pixel is `byte · SCALE[c] + OFFSET[c]`. */
const SCALE = STD.map((s) => 1 / (255 * s));
const OFFSET = MEAN.map((m, c) => -m / STD[c]);

export interface Geometry {
  /** Size of the resized image, before the crop. */
  resizeWidth: number;
  resizeHeight: number;
  left: number;
  top: number;
  /** The crop, i.e. the model's input H×W. */
  width: number;
  height: number;
}

/** Python's round(): halves go to the even neighbour (torchvision's CenterCrop offsets use it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision `Resize(short)` + `CenterCrop(height, width)` as sizes and offsets: the shorter side becomes `short`,
 * the longer `floor(short · long / shorter)`; grown further if that would not cover the crop.
 */
export function geometry(srcWidth: number, srcHeight: number, height: number, width: number): Geometry {
  const short = Math.round((Math.min(height, width) * 256) / 224);
  let rw: number;
  let rh: number;
  if (srcWidth <= srcHeight) {
    rw = short;
    rh = Math.max(1, Math.floor((short * srcHeight) / srcWidth));
  } else {
    rh = short;
    rw = Math.max(1, Math.floor((short * srcWidth) / srcHeight));
  }
  if (rw < width || rh < height) {
    const scale = Math.max(width / srcWidth, height / srcHeight);
    rw = Math.max(width, Math.ceil(srcWidth * scale));
    rh = Math.max(height, Math.ceil(srcHeight * scale));
  }
  return {
    resizeWidth: rw,
    resizeHeight: rh,
    left: roundHalfEven((rw - width) / 2),
    top: roundHalfEven((rh - height) / 2),
    width,
    height,
  };
}

/** Pulls the image bytes out of a request: bytes, a base64 string, or a JSON object with a base64 string field. */
export function imageBytes(req: RequestInput): Uint8Array {
  // An image posted with curl --data-binary arrives as form fields named after its bytes: say so.
  const encoded = formEncodedImage(req);
  if (encoded) throw new Error(encoded);
  const value = pick(req.data) ?? pick(req.body);
  if (value === undefined) throw new Error(noImage(req));
  if (typeof value !== 'string') return value;
  const b64 = value.replace(/^data:[^,]*;base64,/, '').trim();
  if (b64 === '') throw new Error('the image string is empty');
  return Buffer.from(b64, 'base64');
}

function pick(value: unknown): Uint8Array | string | undefined {
  if (value instanceof Uint8Array) return value.byteLength > 0 ? value : undefined;
  if (value instanceof ArrayBuffer) return value.byteLength > 0 ? new Uint8Array(value) : undefined;
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const key of ['data', 'image', 'b64', 'body']) {
      const inner = obj[key];
      if (typeof inner === 'string' || inner instanceof Uint8Array) return pick(inner);
      if (inner !== null && typeof inner === 'object' && typeof (inner as Record<string, unknown>).b64 === 'string') {
        return pick((inner as Record<string, unknown>).b64); // {"image": {"b64": "..."}}
      }
    }
  }
  return undefined;
}

/** The size after EXIF orientation, from sharp (for what `headerSize` does not read itself). */
async function sharpSize(bytes: Uint8Array, options: SharpOptions): Promise<Size> {
  const meta = await sharp(bytes, options).metadata();
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new Error('the image has no size');
  return { width, height };
}

/**
 * Decodes one image and writes it, normalised and planar (CHW), into `out` at `offset`. One sharp pipeline:
 * auto-orient → flatten → sRGB → resize (shrink-on-load for JPEG) → centre extract → raw RGB.
 */
export async function preprocessImage(
  bytes: Uint8Array,
  height: number,
  width: number,
  out: Float32Array,
  offset: number,
  pixelLimit: number = DEFAULT_PIXEL_LIMIT,
): Promise<void> {
  const options = { limitInputPixels: pixelLimit, failOn: 'error' as const };
  const { width: srcW, height: srcH } = headerSize(bytes) ?? (await sharpSize(bytes, options));
  if (pixelLimit > 0 && srcW * srcH > pixelLimit) {
    throw new Error(`${srcW}x${srcH} exceeds the limit of ${pixelLimit} pixels`);
  }
  const g = geometry(srcW, srcH, height, width);
  const { data, info } = await sharp(bytes, options)
    .autoOrient()
    .flatten()
    .toColourspace('srgb')
    .resize(g.resizeWidth, g.resizeHeight, { fit: 'fill', kernel: 'linear' })
    .extract({ left: g.left, top: g.top, width: g.width, height: g.height })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = width * height;
  if (info.channels !== 3 || data.length !== plane * 3) {
    throw new Error(`unexpected decoded layout: ${info.width}x${info.height}x${info.channels}`);
  }
  const [s0, s1, s2] = SCALE;
  const [o0, o1, o2] = OFFSET;
  const g0 = offset;
  const g1 = offset + plane;
  const g2 = offset + 2 * plane;
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    out[g0 + i] = data[j] * s0 + o0;
    out[g1 + i] = data[j + 1] * s1 + o1;
    out[g2 + i] = data[j + 2] * s2 + o2;
  }
}

/** `index_to_name.json` → label by index. Values are names or TorchServe-style `["n01440764", "tench"]`. */
export function parseLabels(json: unknown): Map<number, string> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error('index_to_name.json must be an object of index → name');
  }
  const labels = new Map<number, string>();
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0) throw new Error(`index_to_name.json: "${key}" is not a class index`);
    const name = Array.isArray(value) ? value[value.length - 1] : value;
    if (typeof name !== 'string' && typeof name !== 'number') {
      throw new Error(`index_to_name.json: the label of "${key}" is not a string`);
    }
    labels.set(index, String(name));
  }
  return labels;
}

/** Softmax of one row, then its `k` best as [index, probability], best first. */
export function topK(logits: ArrayLike<number>, start: number, count: number, k: number): Array<[number, number]> {
  let max = -Infinity;
  for (let i = 0; i < count; i++) if (logits[start + i] > max) max = logits[start + i];
  const exps = new Float64Array(count);
  let sum = 0;
  for (let i = 0; i < count; i++) sum += exps[i] = Math.exp(logits[start + i] - max);
  const best: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const p = exps[i] / sum;
    if (best.length === k && p <= best[k - 1][1]) continue;
    let at = best.length;
    while (at > 0 && best[at - 1][1] < p) at--;
    best.splice(at, 0, [i, p]);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Keys that JavaScript objects would put first in ascending order, whatever the insertion order. */
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,8})$/;

function positiveInt(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

export default class ImageClassifier implements Handler {
  private labels = new Map<number, string>();
  private inputName = 'input';
  private outputName = 'output';
  private height = 224;
  private width = 224;
  /**
   * The batch's input tensor, reused from one batch to the next (a worker runs one batch at a time): a fresh 4.8 MB
   * array per batch of 8 would sit dead in the worker until V8 next collects, tens of MB per worker under load.
   */
  private input = new Float32Array(0);
  private fixedBatchOfOne = false;
  private topk = DEFAULT_TOPK;
  private pixelLimit = DEFAULT_PIXEL_LIMIT;

  async initialize(ctx: HandlerContext): Promise<void> {
    const session = ctx.session;
    if (!session) throw new Error('image_classifier needs a model: the archive has no serializedFile');
    this.inputName = session.inputNames[0];
    this.outputName = session.outputNames[0];
    this.readInputShape(ctx);

    const cfg = ctx.modelConfig;
    const handlerCfg = (cfg.handler ?? {}) as Record<string, unknown>;
    const topkValue = cfg.topk ?? handlerCfg.topk;
    if (topkValue !== undefined) {
      const k = positiveInt(topkValue);
      if (k === undefined) ctx.logger.warn(`image_classifier: topk must be a positive integer; using ${DEFAULT_TOPK}`);
      else this.topk = k;
    }
    const limitValue = cfg.limit_max_image_pixels ?? handlerCfg.limit_max_image_pixels;
    if (limitValue !== undefined) {
      const limit = positiveInt(limitValue);
      if (limit === undefined) ctx.logger.warn('image_classifier: limit_max_image_pixels must be a positive integer');
      else this.pixelLimit = limit;
    }

    let text: string | undefined;
    try {
      text = await readFile(path.join(ctx.modelDir, 'index_to_name.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      ctx.logger.info('image_classifier: no index_to_name.json; labels are class indices');
    }
    if (text !== undefined) this.labels = parseLabels(JSON.parse(text));
  }

  /** Takes H and W from an [N,3,H,W] input when both are fixed; otherwise keeps 224×224. */
  private readInputShape(ctx: HandlerContext): void {
    let meta: unknown;
    try {
      meta = ctx.session?.inputMetadata?.[0];
    } catch {
      meta = undefined; // older onnxruntime builds have no inputMetadata
    }
    const m = meta as { isTensor?: boolean; type?: string; shape?: ReadonlyArray<number | string> } | undefined;
    const shape = m?.isTensor ? m.shape : undefined;
    if (!shape || shape.length !== 4) {
      ctx.logger.info('image_classifier: input shape unknown; using 3x224x224');
      return;
    }
    if (m?.type && m.type !== 'float32') ctx.logger.warn(`image_classifier: input is ${m.type}, feeding float32`);
    const [n, c, h, w] = shape;
    if (typeof c === 'number' && c !== 3) ctx.logger.warn(`image_classifier: input has ${c} channels, expected 3`);
    if (typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0) {
      this.height = h;
      this.width = w;
    }
    this.fixedBatchOfOne = n === 1;
  }

  async handle(requests: RequestInput[], ctx: HandlerContext): Promise<unknown[]> {
    const results: unknown[] = new Array(requests.length);
    const size = 3 * this.height * this.width;
    if (this.input.length < size * requests.length) this.input = new Float32Array(size * requests.length);
    const batch = this.input;
    const ok: boolean[] = await Promise.all(
      requests.map(async (req, i) => {
        try {
          const bytes = imageBytes(req);
          await preprocessImage(bytes, this.height, this.width, batch, i * size, this.pixelLimit);
          return true;
        } catch (err) {
          results[i] = new ctx.HandlerError(400, `cannot decode image: ${(err as Error).message}`);
          return false;
        }
      }),
    );
    const good = ok.flatMap((fine, i) => (fine ? [i] : []));
    if (good.length === 0) return results;

    // Compact the decoded images to the front of the batch (only when some failed).
    good.forEach((from, to) => {
      if (from !== to) batch.copyWithin(to * size, from * size, (from + 1) * size);
    });
    const logits = await this.run(batch.subarray(0, good.length * size), good.length, ctx);
    const classes = logits.length / good.length;
    const k = Math.min(this.topk, classes);
    good.forEach((reqIndex, row) => {
      results[reqIndex] = this.format(topK(logits, row * classes, classes, k), reqIndex, ctx);
    });
    return results;
  }

  private async run(input: Float32Array, n: number, ctx: HandlerContext): Promise<Float32Array> {
    const session = ctx.session!;
    const size = 3 * this.height * this.width;
    const runs = this.fixedBatchOfOne ? Array.from({ length: n }, (_, i) => [i, 1]) : [[0, n]];
    const parts: Float32Array[] = [];
    for (const [start, count] of runs) {
      const tensor = new ctx.Tensor('float32', input.subarray(start * size, (start + count) * size), [
        count,
        3,
        this.height,
        this.width,
      ]);
      const out = (await session.run({ [this.inputName]: tensor }))[this.outputName];
      if (!out || !(out.data instanceof Float32Array)) throw new Error(`output "${this.outputName}" is not float32`);
      if (out.data.length % count !== 0 || out.data.length === 0) {
        throw new Error(`output "${this.outputName}" has shape [${out.dims.join(',')}] for a batch of ${count}`);
      }
      parts.push(out.data);
    }
    if (parts.length === 1) return parts[0];
    const all = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return all;
  }

  /**
   * `{label: probability}` best first. JavaScript orders integer-like keys ascending whatever the insertion order,
   * so when a label looks like an index (e.g. no index_to_name.json) the object is sent pre-serialised, as an
   * `application/json` string, to keep the order TorchServe gives.
   */
  private format(best: Array<[number, number]>, reqIndex: number, ctx: HandlerContext): unknown {
    const entries: Array<[string, number]> = [];
    const seen = new Set<string>();
    for (const [index, p] of best) {
      const label = this.labels.get(index) ?? String(index);
      if (seen.has(label)) continue;
      seen.add(label);
      entries.push([label, p]);
    }
    if (!entries.some(([label]) => ARRAY_INDEX.test(label))) return Object.fromEntries(entries);
    ctx.setResponseContentType(reqIndex, 'application/json');
    return `{${entries.map(([label, p]) => `${JSON.stringify(label)}:${JSON.stringify(p)}`).join(',')}}`;
  }
}
