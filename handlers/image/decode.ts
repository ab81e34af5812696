/**
 * Image decoding shared by the vision handlers that keep the whole picture (object_detector, image_segmenter):
 * the original size after EXIF orientation, then one sharp pipeline (auto-orient → flatten → sRGB → resize, and
 * padding for a letterbox) to raw interleaved RGB bytes, and those bytes written planar (CHW) into a float batch.
 */
import sharp, { type Sharp, type SharpOptions } from 'sharp';
import { headerSize, type Size } from './header.ts';

/** PIL's default limit (the same as image_classifier's). */
export const DEFAULT_PIXEL_LIMIT = 89_478_485;

/** YOLO's padding grey. */
const PAD = 114;

export interface Letterbox {
  /** The image after EXIF orientation. */
  srcWidth: number;
  srcHeight: number;
  /** The resized image inside the model's input, and where it sits. */
  innerWidth: number;
  innerHeight: number;
  left: number;
  top: number;
  /** The model's input size. */
  width: number;
  height: number;
}

function options(pixelLimit: number): SharpOptions {
  return { limitInputPixels: pixelLimit > 0 ? pixelLimit : false, failOn: 'error' };
}

/** The size after EXIF orientation: from the header when it is a plain JPEG or PNG, else from sharp. */
export async function orientedSize(bytes: Uint8Array, pixelLimit = DEFAULT_PIXEL_LIMIT): Promise<Size> {
  let size = headerSize(bytes);
  if (!size) {
    const meta = await sharp(bytes, options(pixelLimit)).metadata();
    const width = meta.autoOrient?.width ?? meta.width;
    const height = meta.autoOrient?.height ?? meta.height;
    if (!width || !height) throw new Error('the image has no size');
    size = { width, height };
  }
  if (pixelLimit > 0 && size.width * size.height > pixelLimit) {
    throw new Error(`${size.width}x${size.height} exceeds the limit of ${pixelLimit} pixels`);
  }
  return size;
}

/**
 * Where a `srcWidth`×`srcHeight` image goes in a `width`×`height` input when scaled to fit with its aspect kept
 * and centred (Ultralytics' letterbox: the same scale on both axes, the padding split with its odd pixel at the
 * bottom/right).
 */
export function letterboxGeometry(srcWidth: number, srcHeight: number, width: number, height: number): Letterbox {
  const r = Math.min(width / srcWidth, height / srcHeight);
  const innerWidth = Math.max(1, Math.min(width, Math.round(srcWidth * r)));
  const innerHeight = Math.max(1, Math.min(height, Math.round(srcHeight * r)));
  const left = Math.round((width - innerWidth) / 2 - 0.1);
  const top = Math.round((height - innerHeight) / 2 - 0.1);
  return { srcWidth, srcHeight, innerWidth, innerHeight, left, top, width, height };
}

/** Maps a point of the model's input back to the original image's pixels (clamped to the image). */
export function unletterbox(g: Letterbox, x: number, y: number): [number, number] {
  const ox = ((x - g.left) * g.srcWidth) / g.innerWidth;
  const oy = ((y - g.top) * g.srcHeight) / g.innerHeight;
  return [Math.min(g.srcWidth, Math.max(0, ox)), Math.min(g.srcHeight, Math.max(0, oy))];
}

function pipeline(bytes: Uint8Array, pixelLimit: number): Sharp {
  return sharp(bytes, options(pixelLimit)).autoOrient().flatten().toColourspace('srgb');
}

async function rawRgb(img: Sharp, width: number, height: number): Promise<Buffer> {
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== width || info.height !== height) {
    throw new Error(`unexpected decoded layout: ${info.width}x${info.height}x${info.channels}`);
  }
  return data;
}

/** Decodes and letterboxes an image to `width`×`height`: raw RGB bytes and the geometry to map boxes back. */
export async function letterboxed(
  bytes: Uint8Array,
  width: number,
  height: number,
  pixelLimit = DEFAULT_PIXEL_LIMIT,
): Promise<{ rgb: Buffer; box: Letterbox }> {
  const { width: sw, height: sh } = await orientedSize(bytes, pixelLimit);
  const box = letterboxGeometry(sw, sh, width, height);
  const img = pipeline(bytes, pixelLimit)
    .resize(box.innerWidth, box.innerHeight, { fit: 'fill', kernel: 'linear' })
    .extend({
      left: box.left,
      top: box.top,
      right: width - box.innerWidth - box.left,
      bottom: height - box.innerHeight - box.top,
      background: { r: PAD, g: PAD, b: PAD },
    });
  return { rgb: await rawRgb(img, width, height), box };
}

/** Decodes and resizes an image to exactly `width`×`height` (aspect not kept); also its original size. */
export async function stretched(
  bytes: Uint8Array,
  width: number,
  height: number,
  pixelLimit = DEFAULT_PIXEL_LIMIT,
): Promise<{ rgb: Buffer; source: Size }> {
  const source = await orientedSize(bytes, pixelLimit);
  const img = pipeline(bytes, pixelLimit).resize(width, height, { fit: 'fill', kernel: 'linear' });
  return { rgb: await rawRgb(img, width, height), source };
}

/**
 * Writes interleaved RGB bytes planar into `out` at `offset`, channel c as `byte · scale[c] + shift[c]`
 * (`scale` 1/255 and `shift` 0 give [0, 1]; ImageNet normalisation is 1/(255·std) and −mean/std).
 */
export function writePlanar(
  rgb: Uint8Array,
  out: Float32Array,
  offset: number,
  scale: readonly number[],
  shift: readonly number[],
): void {
  const plane = rgb.length / 3;
  const [s0, s1, s2] = scale;
  const [o0, o1, o2] = shift;
  const g1 = offset + plane;
  const g2 = offset + 2 * plane;
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    out[offset + i] = rgb[j] * s0 + o0;
    out[g1 + i] = rgb[j + 1] * s1 + o1;
    out[g2 + i] = rgb[j + 2] * s2 + o2;
  }
}
