/**
 * Built-in `ocr` handler: PP-OCR text detection (the archive's serializedFile, i.e. ctx.session) followed by
 * CTC text recognition (a second model in the archive) with its character dictionary.
 *
 * Model config (all optional), under `ocr:`
 *   recognizer     file of the recogniser in the archive (default: the first `*rec*.onnx`)
 *   dictionary     file of the character dictionary (default: the first `*keys*`/`*dict*`… `.txt`, else any `.txt`)
 *   limitSideLen   960   detector input: long side limit
 *   thresh         0.3   detector: binarisation threshold
 *   boxThresh      0.6   detector: minimum mean probability of a box
 *   unclipRatio    1.5   detector: box expansion
 *   dropScore      0.5   lines recognised with a lower confidence are left out
 *   maxLineWidth   1600  recogniser: widest line image (at height 48); longer lines are squeezed
 *   recBatchSize   8     recogniser: lines per run
 *
 * Request: the image bytes (any format sharp reads), or base64 text (a `data:` URL is accepted).
 * Result: `{ lines: [{ text, confidence, box: [[x,y] ×4: top-left, top-right, bottom-right, bottom-left] }] }`,
 * lines in reading order, boxes in the original image's pixels (after EXIF rotation).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { InferenceSession } from 'onnxruntime-node';
import type { Handler, HandlerContext, RequestInput } from '../src/handler/contract.ts';
import { buildCharset } from './ocr/ctc.ts';
import { detect, type DetectOptions, type RgbImage } from './ocr/detect.ts';
import { readingOrder, type Quad } from './ocr/geometry.ts';
import { cropLine, recognise, type LineImage, type RecogniseOptions } from './ocr/recognise.ts';
import { formEncodedImage } from './image/no-image.ts';

export interface OcrLine {
  text: string;
  confidence: number;
  box: Quad;
}

export interface OcrResult {
  lines: OcrLine[];
}

export default class OcrHandler implements Handler {
  private detector!: InferenceSession;
  private recognizer!: InferenceSession;
  private charset!: string[];
  private detectOptions!: DetectOptions;
  private recogniseOptions!: RecogniseOptions;
  private dropScore = 0.5;

  async initialize(ctx: HandlerContext): Promise<void> {
    if (!ctx.session) throw new Error('ocr handler: the archive needs the text detector as its serializedFile');
    this.detector = ctx.session;
    const cfg = asRecord(ctx.modelConfig.ocr);
    const num = (key: string, fallback: number, min: number, max: number): number => {
      const v = cfg[key] ?? fallback;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
        throw new Error(`ocr handler: model config ocr.${key} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
      }
      return v;
    };
    this.detectOptions = {
      limitSideLen: num('limitSideLen', 960, 32, 8192),
      thresh: num('thresh', 0.3, 0, 1),
      boxThresh: num('boxThresh', 0.6, 0, 1),
      unclipRatio: num('unclipRatio', 1.5, 0, 10),
      maxCandidates: 1000,
    };
    this.dropScore = num('dropScore', 0.5, 0, 1);
    this.recogniseOptions = {
      maxWidth: Math.round(num('maxLineWidth', 1600, 32, 16384)),
      batchSize: Math.round(num('recBatchSize', 8, 1, 256)),
    };

    const files = (await readdir(ctx.modelDir)).sort();
    const serialized = ctx.manifest.model.serializedFile;
    const recFile =
      fileOption(cfg, 'recognizer') ??
      files.find((f) => /\.onnx$/i.test(f) && /rec/i.test(f) && f !== serialized);
    if (!recFile) {
      throw new Error('ocr handler: no recogniser in the archive: add a *rec*.onnx file or set ocr.recognizer');
    }
    const texts = files.filter((f) => /\.txt$/i.test(f) && !/requirements/i.test(f));
    const dictFile =
      fileOption(cfg, 'dictionary') ?? texts.find((f) => /key|dict|char|vocab/i.test(f)) ?? texts[0];
    if (!dictFile) {
      throw new Error('ocr handler: no character dictionary in the archive: add a .txt file or set ocr.dictionary');
    }

    this.recognizer = await ctx.createSession(recFile);
    const meta = this.recognizer.outputMetadata[0];
    const last = meta && meta.isTensor ? meta.shape[meta.shape.length - 1] : undefined;
    const dictionary = await readFile(fileInside(ctx.modelDir, dictFile), 'utf8');
    this.charset = buildCharset(dictionary, typeof last === 'number' ? last : undefined);
    ctx.logger.info('ocr handler ready', { recognizer: recFile, dictionary: dictFile, characters: this.charset.length - 1 });
  }

  async handle(requests: RequestInput[], ctx: HandlerContext): Promise<unknown[]> {
    const results: (OcrResult | Error)[] = [];
    const pending: { request: number; box: Quad; line: LineImage }[] = [];
    for (const [i, request] of requests.entries()) {
      let image: RgbImage;
      try {
        const encoded = formEncodedImage(request);
        if (encoded) throw new Error(encoded);
        image = await decodeImage(request.data);
      } catch (err) {
        results.push(new ctx.HandlerError(400, (err as Error).message));
        continue;
      }
      results.push({ lines: [] });
      const boxes = readingOrder(await detect(image, this.detector, ctx, this.detectOptions));
      for (const box of boxes) {
        pending.push({ request: i, box, line: await cropLine(image, box, this.recogniseOptions.maxWidth) });
      }
    }

    const recognised = await recognise(
      pending.map((p) => p.line),
      this.recognizer,
      ctx,
      this.charset,
      this.recogniseOptions,
    );
    pending.forEach(({ request, box }, k) => {
      const text = recognised[k].text.trim();
      const confidence = recognised[k].confidence;
      if (text === '' || confidence < this.dropScore) return;
      (results[request] as OcrResult).lines.push({ text, confidence: Math.round(confidence * 1e4) / 1e4, box });
    });
    return results;
  }
}

/** Decodes the request's image to RGB (EXIF-rotated, alpha flattened on white); throws a client-facing message. */
async function decodeImage(data: unknown): Promise<RgbImage> {
  let bytes: Uint8Array;
  if (data instanceof Uint8Array) bytes = data;
  else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
  else if (typeof data === 'string') bytes = Buffer.from(data.replace(/^data:[^,]*;base64,/, '').trim(), 'base64');
  else throw new Error('no image: send the image bytes (or base64 text) as the body or as a field named "data"');
  if (bytes.length === 0) throw new Error('no image: the request body is empty');
  try {
    const { data: pixels, info } = await sharp(bytes)
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected ${info.channels} channels after decoding`);
    return { data: pixels, width: info.width, height: info.height };
  } catch (err) {
    throw new Error(`could not decode the image: ${(err as Error).message}`);
  }
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function fileInside(dir: string, file: string): string {
  const full = path.resolve(dir, file);
  const rel = path.relative(dir, full);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new Error(`ocr handler: "${file}" is not a file inside the model's archive`);
  }
  return full;
}

function fileOption(cfg: Record<string, unknown>, key: string): string | undefined {
  const v = cfg[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new Error(`ocr handler: model config ocr.${key} must be a file name`);
  return v;
}
