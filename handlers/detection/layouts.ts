/**
 * The output layouts of the detector exports users have, turned into candidate boxes (x1, y1, x2, y2 in the
 * model's input pixels) above a score threshold:
 *   - `yolov5`: one output [N, boxes, 5 + classes], rows cx, cy, w, h, objectness, class scores; score =
 *     objectness × best class score;
 *   - `yolov8`: one output [N, 4 + classes, boxes] (channels first), cx, cy, w, h, class scores; score = best
 *     class score;
 *   - `separate`: outputs `boxes` [(N,) K, 4] as x1, y1, x2, y2, `scores` [(N,) K] and `labels` [(N,) K]
 *     (torchvision's SSD, RetinaNet, Faster R-CNN exports), the batch dimension optional; other box formats
 *     (`yxyx` as TensorFlow's detection_boxes, `xywh`, `cxcywh`) and boxes normalised to [0, 1] by `BoxSpace`.
 */
import type { Candidates } from './nms.ts';

export type Layout = 'yolov5' | 'yolov8' | 'separate';
export type BoxFormat = 'xyxy' | 'yxyx' | 'xywh' | 'cxcywh';
export const BOX_FORMATS: readonly BoxFormat[] = ['xyxy', 'yxyx', 'xywh', 'cxcywh'];

/** How separate outputs' boxes are written: their format, and the factors to the input's pixels. */
export interface BoxSpace {
  format: BoxFormat;
  scaleX: number;
  scaleY: number;
}

export const PIXEL_XYXY: BoxSpace = { format: 'xyxy', scaleX: 1, scaleY: 1 };
export const LAYOUTS: readonly Layout[] = ['yolov5', 'yolov8', 'separate'];

/** Enough of an onnxruntime tensor for decoding. */
export interface OutTensor {
  readonly dims: readonly number[];
  readonly data: unknown;
  readonly type: string;
}

/** The separate-output roles, by output name. */
export interface SeparateNames {
  boxes: string;
  scores: string;
  labels: string;
}

/**
 * Which YOLO layout a rank-3 output [N, a, b] is: from the class count when index_to_name.json gives it, else
 * the smaller of the two is the channels (a few dozen against thousands of boxes).
 */
export function yoloLayout(a: number, b: number, classes?: number): 'yolov5' | 'yolov8' {
  if (classes !== undefined) {
    if (a === 4 + classes && b !== 5 + classes) return 'yolov8';
    if (b === 5 + classes && a !== 4 + classes) return 'yolov5';
  }
  return a < b ? 'yolov8' : 'yolov5';
}

/** Picks the boxes, scores and labels outputs by name, else by shape and element type. */
export function separateNames(
  outputs: ReadonlyArray<{ name: string; type?: string; shape?: ReadonlyArray<number | string> }>,
): SeparateNames | undefined {
  const find = (re: RegExp) => outputs.find((o) => re.test(o.name))?.name;
  let boxes = find(/box/i);
  let scores = find(/score|conf/i);
  let labels = find(/label|class/i);
  const rest = outputs.filter((o) => ![boxes, scores, labels].includes(o.name));
  boxes ??= rest.find((o) => o.shape?.[o.shape.length - 1] === 4)?.name;
  labels ??= rest.find((o) => o.name !== boxes && /int/.test(o.type ?? ''))?.name;
  scores ??= rest.find((o) => o.name !== boxes && o.name !== labels && /float/.test(o.type ?? ''))?.name;
  return boxes && scores && labels ? { boxes, scores, labels } : undefined;
}

function floats(t: OutTensor, what: string): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof Float64Array || t.data instanceof Uint16Array) {
    throw new Error(`${what} output is ${t.type}; the handler reads float32`);
  }
  throw new Error(`${what} output is ${t.type}, not float32`);
}

function grow(c: Candidates, need: number): void {
  if (need <= c.scores.length) return;
  const size = Math.max(need, c.scores.length * 2, 64);
  const boxes = new Float32Array(size * 4);
  boxes.set(c.boxes.subarray(0, c.count * 4));
  const scores = new Float32Array(size);
  scores.set(c.scores.subarray(0, c.count));
  const classes = new Int32Array(size);
  classes.set(c.classes.subarray(0, c.count));
  Object.assign(c, { boxes, scores, classes });
}

export function emptyCandidates(): Candidates {
  return { count: 0, boxes: new Float32Array(0), scores: new Float32Array(0), classes: new Int32Array(0) };
}

function push(c: Candidates, x1: number, y1: number, x2: number, y2: number, score: number, cls: number): void {
  grow(c, c.count + 1);
  const b = c.count * 4;
  c.boxes[b] = x1;
  c.boxes[b + 1] = y1;
  c.boxes[b + 2] = x2;
  c.boxes[b + 3] = y2;
  c.scores[c.count] = score;
  c.classes[c.count] = cls;
  c.count++;
}

/** Candidates of image `row` of a YOLO output. */
export function yoloCandidates(t: OutTensor, layout: 'yolov5' | 'yolov8', row: number, threshold: number): Candidates {
  if (t.dims.length !== 3) throw new Error(`a ${layout} output has rank 3, got [${t.dims.join(',')}]`);
  const data = floats(t, layout);
  const [, a, b] = t.dims;
  const c = emptyCandidates();
  const base = row * a * b;
  if (layout === 'yolov8') {
    const classes = a - 4;
    if (classes < 1) throw new Error(`a yolov8 output needs 4 + classes channels, got [${t.dims.join(',')}]`);
    for (let i = 0; i < b; i++) {
      let best = -Infinity;
      let cls = 0;
      for (let k = 0; k < classes; k++) {
        const s = data[base + (4 + k) * b + i];
        if (s > best) [best, cls] = [s, k];
      }
      if (!(best >= threshold)) continue;
      const cx = data[base + i];
      const cy = data[base + b + i];
      const hw = data[base + 2 * b + i] / 2;
      const hh = data[base + 3 * b + i] / 2;
      push(c, cx - hw, cy - hh, cx + hw, cy + hh, best, cls);
    }
    return c;
  }
  const classes = b - 5;
  if (classes < 1) throw new Error(`a yolov5 output needs 5 + classes values per box, got [${t.dims.join(',')}]`);
  for (let i = 0; i < a; i++) {
    const r = base + i * b;
    const obj = data[r + 4];
    if (!(obj >= threshold)) continue; // objectness × class score ≤ objectness
    let best = -Infinity;
    let cls = 0;
    for (let k = 0; k < classes; k++) {
      const s = data[r + 5 + k];
      if (s > best) [best, cls] = [s, k];
    }
    const score = obj * best;
    if (!(score >= threshold)) continue;
    const hw = data[r + 2] / 2;
    const hh = data[r + 3] / 2;
    push(c, data[r] - hw, data[r + 1] - hh, data[r] + hw, data[r + 1] + hh, score, cls);
  }
  return c;
}

function integerAt(data: unknown, i: number): number {
  const v = (data as ArrayLike<number | bigint>)[i];
  return typeof v === 'bigint' ? Number(v) : Math.round(v);
}

/** Candidates of image `row` of separate boxes/scores/labels outputs (with or without a batch dimension). */
export function separateCandidates(
  out: Record<string, OutTensor>,
  names: SeparateNames,
  row: number,
  threshold: number,
  space: BoxSpace = PIXEL_XYXY,
): Candidates {
  const boxes = out[names.boxes];
  const scores = out[names.scores];
  const labels = out[names.labels];
  if (!boxes || !scores || !labels) throw new Error(`the model did not return ${Object.values(names).join(', ')}`);
  const batched = boxes.dims.length === 3;
  const k = batched ? boxes.dims[1] : boxes.dims[0];
  if (boxes.dims[boxes.dims.length - 1] !== 4 || scores.dims[scores.dims.length - 1] !== k) {
    throw new Error(`boxes [${boxes.dims.join(',')}] and scores [${scores.dims.join(',')}] do not agree`);
  }
  const b = floats(boxes, 'boxes');
  const s = floats(scores, 'scores');
  const at = batched ? row * k : 0;
  const c = emptyCandidates();
  for (let i = 0; i < k; i++) {
    const score = s[at + i];
    if (!(score >= threshold)) continue;
    const q = (at + i) * 4;
    let [x1, y1, x2, y2] = [b[q], b[q + 1], b[q + 2], b[q + 3]];
    if (space.format === 'yxyx') [x1, y1, x2, y2] = [y1, x1, y2, x2];
    else if (space.format === 'xywh') [x2, y2] = [x1 + x2, y1 + y2];
    else if (space.format === 'cxcywh') [x1, y1, x2, y2] = [x1 - x2 / 2, y1 - y2 / 2, x1 + x2 / 2, y1 + y2 / 2];
    const { scaleX: sx, scaleY: sy } = space;
    push(c, x1 * sx, y1 * sy, x2 * sx, y2 * sy, score, integerAt(labels.data, at + i));
  }
  return c;
}
