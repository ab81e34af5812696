/**
 * Built-in `object_detector` handler, answering as TorchServe's: per image a list of
 * `{"<label>": [x1, y1, x2, y2], "score": s}`, best first, boxes in the original image's pixels (after EXIF
 * orientation).
 *
 * Each image is letterboxed to the model's input (aspect kept, grey padding, RGB scaled to [0, 1] and by default
 * no mean/std: what YOLO and torchvision detectors take; uint8 inputs get the bytes), run in one batch when the model's dim 0 is free, decoded from the
 * output layout (`detection/layouts.ts`: YOLOv5, YOLOv8, or separate boxes/scores/labels), thresholded,
 * class-wise NMS'd (`detection/nms.ts`) and mapped back through the letterbox. Labels from `index_to_name.json`,
 * else the class index.
 *
 * Model config: `threshold` (0.5, TorchServe's), `iou_threshold` (0.45), `max_detections` (100), also as query
 * parameters per request; `layout` (yolov5 | yolov8 | separate) when the shape does not tell; `input_size` (640,
 * or [height, width]) for a model whose input size is free; `mean`/`std`; for separate outputs `box_format`
 * (xyxy | yxyx | xywh | cxcywh) and `boxes_normalized`; `limit_max_image_pixels`. Inputs NCHW, CHW or NHWC,
 * float32 or uint8 (`detection/input.ts`).
 *
 * KServe v2: one BYTES input of images (raw with the binary extension, else base64); the answer is the tensors
 * TensorRT's EfficientNMS gives Triton users: `num_detections` INT32 [B], `detection_boxes` FP32 [B, K, 4],
 * `detection_scores` FP32 [B, K], `detection_classes` INT32 [B, K] and `detection_labels` BYTES [B, K], K the
 * most detections of any image, rows past an image's count zero (labels empty).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { Handler, HandlerContext, RequestInput } from '../src/handler/contract.ts';
import { imageBytes, parseLabels } from './image_classifier.ts';
import { DEFAULT_PIXEL_LIMIT, letterboxed, unletterbox, type Letterbox } from './image/decode.ts';
import { imageElement, requestParameters, v2Elements, v2Request, type V2Output } from './common/v2.ts';
import { BOX_FORMATS, LAYOUTS, separateCandidates, separateNames, yoloCandidates, yoloLayout, type BoxFormat, type BoxSpace, type Layout, type OutTensor, type SeparateNames } from './detection/layouts.ts';
import { batchBuffer, imageSize, inputSpec, tensorDims, writeImage, type InputSpec } from './detection/input.ts';
import { nms } from './detection/nms.ts';
import { modelOptions, requestOptions, type DetectOptions } from './detection/options.ts';

export interface Detection {
  label: string;
  classIndex: number;
  box: [number, number, number, number];
  score: number;
}

interface Job {
  request: number;
  bytes: Uint8Array;
  options: DetectOptions;
  box?: Letterbox;
  detections?: Detection[];
}

type Meta = { name: string; isTensor?: boolean; type?: string; shape?: ReadonlyArray<number | string> };

function metadata(list: () => readonly unknown[] | undefined): Meta[] {
  try {
    return (list() ?? []) as Meta[];
  } catch {
    return []; // older onnxruntime builds have no metadata
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export default class ObjectDetector implements Handler {
  readonly acceptsV2Requests = true;
  private session!: InferenceSession;
  private labels = new Map<number, string>();
  private options!: DetectOptions;
  private pixelLimit = DEFAULT_PIXEL_LIMIT;
  private spec!: InputSpec;
  private batched = true;
  private layout?: Layout;
  private separate?: SeparateNames;
  private boxSpace!: BoxSpace;
  private yoloOutput = 'output0';
  private input: Float32Array | Uint8Array = new Float32Array(0);

  async initialize(ctx: HandlerContext): Promise<void> {
    if (!ctx.session) throw new Error('object_detector needs a model: the archive has no serializedFile');
    this.session = ctx.session;
    const cfg = ctx.modelConfig;
    this.options = modelOptions(cfg);
    const limit = cfg.limit_max_image_pixels;
    if (limit !== undefined) {
      if (!Number.isInteger(limit) || (limit as number) < 0) throw new Error('object_detector: limit_max_image_pixels must be a non-negative integer');
      this.pixelLimit = limit as number;
    }
    await this.readLabels(ctx);
    const name = this.session.inputNames[0];
    this.spec = inputSpec(name, metadata(() => this.session.inputMetadata).find((m) => m.name === name), cfg);
    this.batched = this.spec.batched;
    this.readLayout(ctx, cfg.layout);
    this.boxSpace = this.readBoxSpace(cfg);
    ctx.logger.info('object_detector ready', { layout: this.layout ?? 'yolo (from the output shape)', input: tensorDims(this.spec, 1), ...this.options });
  }

  private async readLabels(ctx: HandlerContext): Promise<void> {
    try {
      this.labels = parseLabels(JSON.parse(await readFile(path.join(ctx.modelDir, 'index_to_name.json'), 'utf8')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      ctx.logger.info('object_detector: no index_to_name.json; labels are class indices');
    }
  }

  private readLayout(ctx: HandlerContext, configured: unknown): void {
    const outputs = metadata(() => this.session.outputMetadata);
    const named = this.session.outputNames.map((name) => outputs.find((m) => m.name === name) ?? { name });
    if (configured !== undefined && !LAYOUTS.includes(configured as Layout)) {
      throw new Error(`object_detector: layout must be one of ${LAYOUTS.join(', ')}, got ${JSON.stringify(configured)}`);
    }
    const separate = configured === 'separate' || (configured === undefined && named.length >= 3) ? separateNames(named) : undefined;
    if (configured === 'separate' && !separate) {
      throw new Error(`object_detector: cannot tell boxes, scores and labels apart among the outputs ${this.session.outputNames.join(', ')}`);
    }
    if (separate) {
      this.separate = separate;
      this.layout = 'separate';
      const boxes = named.find((m) => m.name === separate.boxes);
      if (boxes?.shape?.length === 2) this.batched = false;
      return;
    }
    // YOLO: the output of rank 3 (older YOLOv5 exports add their feature maps, of rank 5, as more outputs).
    const yolo = named.find((m) => m.shape?.length === 3) ?? named[0];
    this.yoloOutput = yolo.name;
    const shape = yolo.shape;
    if (shape && shape.length !== 3) {
      const all = named.map((m) => `"${m.name}" [${m.shape?.join(',') ?? '?'}]`).join(', ');
      throw new Error(
        `object_detector: no detector layout among the outputs ${all}: a YOLO output is [N, boxes, 5+classes] or ` +
          '[N, 4+classes, boxes]; separate outputs are boxes [N, K, 4], scores [N, K] and labels [N, K]',
      );
    }
    if (configured !== undefined) this.layout = configured as Layout;
    else if (shape && typeof shape[1] === 'number' && typeof shape[2] === 'number') {
      this.layout = yoloLayout(shape[1], shape[2], this.labels.size || undefined);
    }
    ctx.logger.debug('object_detector: output layout', { layout: this.layout });
  }

  /** `box_format` and `boxes_normalized` (separate outputs only). */
  private readBoxSpace(cfg: Record<string, unknown>): BoxSpace {
    const format = (cfg.box_format ?? 'xyxy') as BoxFormat;
    if (!BOX_FORMATS.includes(format)) throw new Error(`object_detector: box_format must be one of ${BOX_FORMATS.join(', ')}, got ${JSON.stringify(cfg.box_format)}`);
    if (cfg.boxes_normalized !== undefined && typeof cfg.boxes_normalized !== 'boolean') {
      throw new Error(`object_detector: boxes_normalized must be true or false, got ${JSON.stringify(cfg.boxes_normalized)}`);
    }
    if ((format !== 'xyxy' || cfg.boxes_normalized) && this.layout !== 'separate') {
      throw new Error('object_detector: box_format and boxes_normalized are for separate boxes/scores/labels outputs (YOLO writes cx, cy, w, h in pixels)');
    }
    const normalized = cfg.boxes_normalized === true;
    return { format, scaleX: normalized ? this.spec.width : 1, scaleY: normalized ? this.spec.height : 1 };
  }

  async handle(requests: RequestInput[], ctx: HandlerContext): Promise<unknown[]> {
    const results: unknown[] = new Array(requests.length);
    const jobs: Job[] = [];
    requests.forEach((req, i) => {
      try {
        const options = requestOptions(this.options, requestParameters(req));
        const v2 = v2Request(req);
        const images = v2 ? v2Elements(v2, 'images').map(imageElement) : [imageBytes(req)];
        for (const bytes of images) jobs.push({ request: i, bytes, options });
      } catch (err) {
        // A bad parameter (OptionError), v2 request (V2Error) or body: this request's 400.
        results[i] = new ctx.HandlerError(400, (err as Error).message);
      }
    });
    const size = imageSize(this.spec);
    this.input = batchBuffer(this.spec, jobs.length, this.input);
    const decoded = await Promise.all(
      jobs.map(async (job, k) => {
        try {
          const { rgb, box } = await letterboxed(job.bytes, this.spec.width, this.spec.height, this.pixelLimit);
          writeImage(this.spec, rgb, this.input, k);
          job.box = box;
          return true;
        } catch (err) {
          results[job.request] ??= new ctx.HandlerError(400, `cannot decode image: ${(err as Error).message}`);
          return false;
        }
      }),
    );
    const good = jobs.filter((job, k) => decoded[k] && results[job.request] === undefined);
    // Compact the decoded images to the front of the batch (only when some failed).
    good.forEach((job, to) => {
      const from = jobs.indexOf(job);
      if (from !== to) this.input.copyWithin(to * size, from * size, (from + 1) * size);
    });
    await this.detect(good, ctx);
    requests.forEach((req, i) => {
      if (results[i] !== undefined) return;
      const mine = good.filter((j) => j.request === i).map((j) => j.detections!);
      results[i] = v2Request(req) ? { outputs: v2Outputs(mine) } : mine[0].map(torchServeShape);
    });
    return results;
  }

  /** Runs the images (batched when the model allows) and fills each job's detections. */
  private async detect(jobs: Job[], ctx: HandlerContext): Promise<void> {
    const size = imageSize(this.spec);
    const runs: Array<[number, number]> = this.batched ? (jobs.length ? [[0, jobs.length]] : []) : jobs.map((_, k) => [k, 1]);
    for (const [start, count] of runs) {
      const data = this.input.subarray(start * size, (start + count) * size);
      const tensor = data instanceof Uint8Array ? new ctx.Tensor('uint8', data, tensorDims(this.spec, count)) : new ctx.Tensor('float32', data, tensorDims(this.spec, count));
      const feeds = { [this.spec.name]: tensor };
      const out = (await this.session.run(feeds)) as unknown as Record<string, OutTensor>;
      for (let row = 0; row < count; row++) {
        const job = jobs[start + row];
        job.detections = this.decode(out, row, job.options, job.box!);
      }
    }
  }

  private decode(out: Record<string, OutTensor>, row: number, o: DetectOptions, g: Letterbox): Detection[] {
    let candidates;
    if (this.layout === 'separate') candidates = separateCandidates(out, this.separate!, row, o.threshold, this.boxSpace);
    else {
      const t = out[this.yoloOutput];
      const layout = this.layout ?? yoloLayout(t.dims[1], t.dims[2], this.labels.size || undefined);
      candidates = yoloCandidates(t, layout, row, o.threshold);
    }
    return nms(candidates, o.iou_threshold, o.max_detections).map((i) => {
      const b = candidates.boxes;
      const [x1, y1] = unletterbox(g, b[i * 4], b[i * 4 + 1]);
      const [x2, y2] = unletterbox(g, b[i * 4 + 2], b[i * 4 + 3]);
      const classIndex = candidates.classes[i];
      return {
        label: this.labels.get(classIndex) ?? String(classIndex),
        classIndex,
        box: [round2(x1), round2(y1), round2(x2), round2(y2)],
        score: Math.round(candidates.scores[i] * 1e4) / 1e4,
      };
    });
  }
}

/** TorchServe's `{"<label>": [x1, y1, x2, y2], "score": s}`. */
function torchServeShape(d: Detection): Record<string, unknown> {
  return { [d.label]: d.box, score: d.score };
}

/** EfficientNMS-style tensors for a v2 request's images, padded to the most detections of any image. */
function v2Outputs(images: Detection[][]): V2Output[] {
  const k = Math.max(0, ...images.map((d) => d.length));
  const pad = <T>(d: Detection[], f: (x: Detection) => T[], fill: T[]) =>
    Array.from({ length: k }, (_, i) => (i < d.length ? f(d[i]) : fill)).flat();
  const b = images.length;
  return [
    { name: 'num_detections', datatype: 'INT32', shape: [b], data: images.map((d) => d.length) },
    { name: 'detection_boxes', datatype: 'FP32', shape: [b, k, 4], data: images.flatMap((d) => pad(d, (x) => x.box, [0, 0, 0, 0])) },
    { name: 'detection_scores', datatype: 'FP32', shape: [b, k], data: images.flatMap((d) => pad(d, (x) => [x.score], [0])) },
    { name: 'detection_classes', datatype: 'INT32', shape: [b, k], data: images.flatMap((d) => pad(d, (x) => [x.classIndex], [0])) },
    { name: 'detection_labels', datatype: 'BYTES', shape: [b, k], data: images.flatMap((d) => pad(d, (x) => [x.label], [''])) },
  ];
}
