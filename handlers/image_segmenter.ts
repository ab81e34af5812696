/**
 * Built-in `image_segmenter` handler. The model's output [N, C, h, w] (the output named `out`, as torchvision's
 * FCN and DeepLabV3 exports, else the first) becomes, per image, a class per pixel at the image's own size
 * (after EXIF orientation): softmax probabilities resized bilinearly, then the best class and its probability.
 *
 * Answer: as TorchServe's image_segmenter, rows of pixels, each `[class, probability]` (JSON, [H][W][2]); with
 * `Accept: image/png` a greyscale PNG of the image's size whose pixel values are the class indices (up to 256
 * classes). Preprocessing: the image resized to the model's input H×W (the whole image, aspect not kept, so that
 * every pixel gets a class), ImageNet mean/std as TorchServe's; a model whose input size is free gets the image
 * with its shorter side at 256 (TorchServe's Resize(256)), or `input_size` from the model config.
 *
 * A JSON answer over `max_json_pixels` (2,000,000) pixels is a 413 pointing to the PNG: its rows would be tens of
 * MB of JSON and a small array per pixel in the worker's heap.
 *
 * KServe v2: one BYTES input of images (raw or base64) of one size; outputs `classes` INT32 [B, H, W] and
 * `probabilities` FP32 [B, H, W].
 */
import sharp from 'sharp';
import type { InferenceSession } from 'onnxruntime-node';
import type { Handler, HandlerContext, RequestInput } from '../src/handler/contract.ts';
import { imageBytes } from './image_classifier.ts';
import { DEFAULT_PIXEL_LIMIT, orientedSize, stretched, writePlanar } from './image/decode.ts';
import { imageElement, v2Elements, v2Request, V2Error, type V2Output } from './common/v2.ts';
import { classMap, torchServeRows, type ClassMap } from './segmentation/class-map.ts';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const SCALE = STD.map((s) => 1 / (255 * s));
const SHIFT = MEAN.map((m, c) => -m / STD[c]);
const SHORT_SIDE = 256;
/** Pixels a JSON answer may hold (about 13 bytes each): past it the answer is a 413 that points to the PNG. */
const DEFAULT_MAX_JSON_PIXELS = 2_000_000;

interface Job {
  request: number;
  bytes: Uint8Array;
  width?: number;
  height?: number;
  /** The model input of this image, and its H×W. */
  input?: Float32Array;
  inputSize?: [number, number];
  map?: ClassMap;
}

export default class ImageSegmenter implements Handler {
  readonly acceptsV2Requests = true;
  private session!: InferenceSession;
  private inputName = 'input';
  private outputName = 'out';
  private fixed?: [number, number];
  private batched = true;
  private pixelLimit = DEFAULT_PIXEL_LIMIT;
  private maxJsonPixels = DEFAULT_MAX_JSON_PIXELS;

  initialize(ctx: HandlerContext): void {
    if (!ctx.session) throw new Error('image_segmenter needs a model: the archive has no serializedFile');
    this.session = ctx.session;
    this.inputName = ctx.session.inputNames[0];
    this.outputName = ctx.session.outputNames.includes('out') ? 'out' : ctx.session.outputNames[0];
    let shape: ReadonlyArray<number | string> | undefined;
    try {
      const m = ctx.session.inputMetadata.find((x) => x.name === this.inputName);
      shape = m?.isTensor ? m.shape : undefined;
    } catch {
      shape = undefined; // older onnxruntime builds have no metadata
    }
    if (shape && shape.length !== 4) throw new Error(`image_segmenter: input "${this.inputName}" has shape [${shape.join(',')}]; expected [N,3,H,W]`);
    const [n, , h, w] = shape ?? [];
    if (typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0) this.fixed = [h, w];
    else if (ctx.modelConfig.input_size !== undefined) {
      const s = ctx.modelConfig.input_size;
      const size = Array.isArray(s) ? s : [s, s];
      if (size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 8 && v <= 8192)) {
        throw new Error(`image_segmenter: input_size must be an integer or [height, width] from 8 to 8192, got ${JSON.stringify(s)}`);
      }
      this.fixed = size as [number, number];
    }
    this.batched = typeof n !== 'number';
    const limit = ctx.modelConfig.limit_max_image_pixels;
    if (limit !== undefined) {
      if (!Number.isInteger(limit) || (limit as number) < 0) throw new Error('image_segmenter: limit_max_image_pixels must be a non-negative integer');
      this.pixelLimit = limit as number;
    }
    const maxJson = ctx.modelConfig.max_json_pixels;
    if (maxJson !== undefined) {
      if (!Number.isInteger(maxJson) || (maxJson as number) < 1) throw new Error('image_segmenter: max_json_pixels must be a positive integer');
      this.maxJsonPixels = maxJson as number;
    }
  }

  /** The model input size for an image: the model's, else shorter side 256 with the aspect kept. */
  private async inputSize(bytes: Uint8Array): Promise<[number, number]> {
    if (this.fixed) return this.fixed;
    const { width, height } = await orientedSize(bytes, this.pixelLimit);
    const s = SHORT_SIDE / Math.min(width, height);
    return [Math.max(1, Math.round(height * s)), Math.max(1, Math.round(width * s))];
  }

  async handle(requests: RequestInput[], ctx: HandlerContext): Promise<unknown[]> {
    const results: unknown[] = new Array(requests.length);
    const jobs: Job[] = [];
    const png = requests.map((r) => !v2Request(r) && /\bimage\/png\b/i.test(r.headers.accept ?? ''));
    requests.forEach((req, i) => {
      try {
        const v2 = v2Request(req);
        const images = v2 ? v2Elements(v2, 'images').map(imageElement) : [imageBytes(req)];
        for (const bytes of images) jobs.push({ request: i, bytes });
      } catch (err) {
        results[i] = new ctx.HandlerError(400, (err as Error).message);
      }
    });
    await Promise.all(
      jobs.map(async (job) => {
        try {
          const [h, w] = await this.inputSize(job.bytes);
          const { rgb, source } = await stretched(job.bytes, w, h, this.pixelLimit);
          job.input = new Float32Array(3 * h * w);
          job.inputSize = [h, w];
          writePlanar(rgb, job.input, 0, SCALE, SHIFT);
          [job.width, job.height] = [source.width, source.height];
          if (!png[job.request] && source.width * source.height > this.maxJsonPixels) {
            results[job.request] ??= new ctx.HandlerError(
              413,
              `a ${source.width}x${source.height} image makes a JSON mask of ${source.width * source.height} pixels, over max_json_pixels (${this.maxJsonPixels}): ask for a PNG mask with Accept: image/png, or send a smaller image`,
            );
          }
        } catch (err) {
          results[job.request] ??= new ctx.HandlerError(400, `cannot decode image: ${(err as Error).message}`);
        }
      }),
    );
    const good = jobs.filter((j) => results[j.request] === undefined);
    await this.segment(good, png, ctx);
    requests.forEach((req, i) => {
      if (results[i] !== undefined) return;
      const maps = good.filter((j) => j.request === i).map((j) => j.map!);
      try {
        results[i] = v2Request(req) ? { outputs: v2Outputs(maps) } : png[i] ? this.png(maps[0], i, ctx).catch((e: unknown) => e) : torchServeRows(maps[0]);
      } catch (err) {
        if (!(err instanceof V2Error)) throw err;
        results[i] = new ctx.HandlerError(400, err.message);
      }
    });
    await Promise.all(results.map(async (r, i) => (results[i] = await r)));
    return results;
  }

  /** Runs images of one input size together (when dim 0 is free) and fills each job's class map. */
  private async segment(jobs: Job[], png: boolean[], ctx: HandlerContext): Promise<void> {
    const groups = new Map<string, Job[]>();
    for (const job of jobs) {
      const key = this.batched ? job.inputSize!.join('x') : String(groups.size);
      groups.set(key, [...(groups.get(key) ?? []), job]);
    }
    for (const group of groups.values()) {
      const size = group[0].input!.length;
      const data = group.length === 1 ? group[0].input! : new Float32Array(size * group.length);
      if (group.length > 1) group.forEach((j, k) => data.set(j.input!, k * size));
      const [h, w] = group[0].inputSize!;
      const out = (await this.session.run({ [this.inputName]: new ctx.Tensor('float32', data, [group.length, 3, h, w]) }))[this.outputName];
      if (!out || !(out.data instanceof Float32Array) || out.dims.length !== 4 || out.dims[0] !== group.length) {
        throw new Error(`image_segmenter: output "${this.outputName}" is ${out?.type} [${out?.dims.join(',')}]; expected float32 [N, classes, H, W]`);
      }
      const [, classes, oh, ow] = out.dims;
      const per = classes * oh * ow;
      group.forEach((job, k) => {
        // A PNG mask needs no probabilities.
        job.map = classMap(out.data as Float32Array, k * per, classes, oh, ow, job.width!, job.height!, !png[job.request]);
      });
    }
  }

  private async png(map: ClassMap, index: number, ctx: HandlerContext): Promise<Buffer> {
    let max = 0;
    for (const c of map.classes) if (c > max) max = c;
    if (max > 255) throw new ctx.HandlerError(406, `a PNG mask holds up to 256 classes; this model has class ${max}: ask for JSON`);
    const grey = Uint8Array.from(map.classes);
    ctx.setResponseContentType(index, 'image/png');
    return sharp(grey, { raw: { width: map.width, height: map.height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  }
}

function v2Outputs(maps: ClassMap[]): V2Output[] {
  const { width, height } = maps[0];
  if (maps.some((m) => m.width !== width || m.height !== height)) {
    throw new V2Error('the images of one v2 request must have one size (their masks share a tensor); send them in separate requests');
  }
  const shape = [maps.length, height, width];
  return [
    { name: 'classes', datatype: 'INT32', shape, data: maps.flatMap((m) => Array.from(m.classes)) },
    { name: 'probabilities', datatype: 'FP32', shape, data: maps.flatMap((m) => Array.from(m.probabilities!, (p) => Math.round(p * 1e4) / 1e4)) },
  ];
}
