/**
 * What object_detector feeds the model, from the model's input metadata and the model config:
 *   - layout: NCHW [N,3,H,W] (YOLO, torchvision with a batch), CHW [3,H,W] (torchvision's exports) or NHWC
 *     [N,H,W,3] (TensorFlow's, via tf2onnx), told from where the 3 channels are;
 *   - element type: float32, or uint8 (TensorFlow's detection exports take the bytes as they are);
 *   - size: the model's fixed H×W, else `input_size` (640, or [height, width]);
 *   - float values: RGB / 255, then `(x − mean) / std` when the config gives `mean` and `std` (three numbers
 *     each, on the [0, 1] scale, e.g. ImageNet's for ONNX Model Zoo's SSD).
 */

type Meta = { name: string; isTensor?: boolean; type?: string; shape?: ReadonlyArray<number | string> };

export interface InputSpec {
  name: string;
  /** [3,H,W]: no batch dimension, one image per run. */
  rank3: boolean;
  nhwc: boolean;
  uint8: boolean;
  /** dim 0 is free: a batch runs at once. */
  batched: boolean;
  height: number;
  width: number;
  /** Float channel c is `byte · scale[c] + shift[c]`. */
  scale: number[];
  shift: number[];
}

function triple(v: unknown, key: string): number[] | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return v as number[];
  throw new Error(`object_detector: ${key} must be three numbers (R, G, B on the [0, 1] scale), got ${JSON.stringify(v)}`);
}

export function inputSpec(name: string, meta: Meta | undefined, cfg: Record<string, unknown>): InputSpec {
  const shape = meta?.isTensor ? meta.shape : undefined;
  if (shape && shape.length !== 3 && shape.length !== 4) {
    throw new Error(`object_detector: input "${name}" has shape [${shape.join(',')}]; expected [N,3,H,W], [3,H,W] or [N,H,W,3]`);
  }
  const rank3 = shape?.length === 3;
  const nhwc = shape?.length === 4 && shape[3] === 3 && shape[1] !== 3;
  const type = meta?.type ?? 'float32';
  if (type !== 'float32' && type !== 'uint8') throw new Error(`object_detector: input "${name}" is ${type}; the handler feeds float32 or uint8`);
  const [h, w] = shape ? (nhwc ? shape.slice(1, 3) : shape.slice(-2)) : [];
  let height = 640;
  let width = 640;
  if (typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0) [height, width] = [h, w];
  else if (cfg.input_size !== undefined) {
    const s = cfg.input_size;
    const size = Array.isArray(s) ? s : [s, s];
    if (size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 32 && v <= 8192)) {
      throw new Error(`object_detector: input_size must be an integer or [height, width] from 32 to 8192, got ${JSON.stringify(s)}`);
    }
    [height, width] = size as [number, number];
  }
  if (shape && !rank3 && typeof shape[0] === 'number' && shape[0] !== 1) {
    throw new Error(`object_detector: input "${name}" has its batch fixed at ${shape[0]}; export it with a batch of 1 or a free one`);
  }
  const mean = triple(cfg.mean, 'mean') ?? [0, 0, 0];
  const std = triple(cfg.std, 'std') ?? [1, 1, 1];
  if (std.some((s) => s === 0)) throw new Error('object_detector: std must not hold 0');
  return {
    name,
    rank3,
    nhwc,
    uint8: type === 'uint8',
    batched: !rank3 && typeof shape?.[0] !== 'number',
    height,
    width,
    scale: std.map((s) => 1 / (255 * s)),
    shift: mean.map((m, c) => -m / std[c]),
  };
}

export const imageSize = (s: InputSpec) => 3 * s.height * s.width;

export function tensorDims(s: InputSpec, count: number): number[] {
  if (s.rank3) return [3, s.height, s.width];
  return s.nhwc ? [count, s.height, s.width, 3] : [count, 3, s.height, s.width];
}

/** A batch buffer for `count` images (the old one when it is large enough). */
export function batchBuffer(s: InputSpec, count: number, old: Float32Array | Uint8Array): Float32Array | Uint8Array {
  const need = imageSize(s) * count;
  const right = s.uint8 ? old instanceof Uint8Array : old instanceof Float32Array;
  if (right && old.length >= need) return old;
  return s.uint8 ? new Uint8Array(need) : new Float32Array(need);
}

/** Writes interleaved RGB bytes as image `index` of the batch, in the model's layout and element type. */
export function writeImage(s: InputSpec, rgb: Uint8Array, out: Float32Array | Uint8Array, index: number): void {
  const offset = index * imageSize(s);
  const plane = s.height * s.width;
  if (s.uint8 && s.nhwc) {
    out.set(rgb, offset);
    return;
  }
  const [s0, s1, s2] = s.uint8 ? [1, 1, 1] : s.scale;
  const [o0, o1, o2] = s.uint8 ? [0, 0, 0] : s.shift;
  if (s.nhwc) {
    for (let j = 0; j < rgb.length; j += 3) {
      out[offset + j] = rgb[j] * s0 + o0;
      out[offset + j + 1] = rgb[j + 1] * s1 + o1;
      out[offset + j + 2] = rgb[j + 2] * s2 + o2;
    }
    return;
  }
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    out[offset + i] = rgb[j] * s0 + o0;
    out[offset + plane + i] = rgb[j + 1] * s1 + o1;
    out[offset + 2 * plane + i] = rgb[j + 2] * s2 + o2;
  }
}
