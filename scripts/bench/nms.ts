/**
 * `npm run bench:nms`: object_detector's class-wise NMS at 8,400 candidate boxes (a YOLOv8 output at 640×640),
 * against the textbook loop measured in the same run (sort, then every kept box is compared with every later
 * candidate of its class), on two sets of candidates:
 *   - clustered: 60 objects of 80 classes, each with ~140 jittered candidates (what a detector emits);
 *   - scattered: 8,400 small random boxes, few overlapping (nearly everything survives: the textbook loop's
 *     worst case).
 * Also the whole per-image decode of a [1, 84, 8400] output (threshold 0.25) plus NMS. Prints the median of
 * repeated runs in ms; both versions give the same boxes (checked before timing).
 */
import { performance } from 'node:perf_hooks';
import { nms, byScore, type Candidates } from '../../handlers/detection/nms.ts';
import { yoloCandidates } from '../../handlers/detection/layouts.ts';
import { seededRandom } from '../lib/onnx-models.ts';

const N = 8400;
const CLASSES = 80;
const IOU = 0.45;
const MAX_DET = 100;

/** Indices by descending score with a comparator, as one would first write it. */
function comparatorSort(c: Candidates): Uint32Array {
  const order = new Uint32Array(c.count);
  for (let i = 0; i < c.count; i++) order[i] = i;
  return order.sort((a, b) => c.scores[b] - c.scores[a] || a - b);
}

/** The textbook version: all pairs after sorting, class-wise, then the first `maxDetections`. */
function textbookNms(c: Candidates, iou: number, maxDetections: number): number[] {
  const order = comparatorSort(c);
  const suppressed = new Uint8Array(c.count);
  const kept: number[] = [];
  const b = c.boxes;
  for (let oi = 0; oi < c.count; oi++) {
    const i = order[oi];
    if (suppressed[i]) continue;
    kept.push(i);
    const ai = (b[i * 4 + 2] - b[i * 4]) * (b[i * 4 + 3] - b[i * 4 + 1]);
    for (let oj = oi + 1; oj < c.count; oj++) {
      const j = order[oj];
      if (suppressed[j] || c.classes[j] !== c.classes[i]) continue;
      const w = Math.max(0, Math.min(b[i * 4 + 2], b[j * 4 + 2]) - Math.max(b[i * 4], b[j * 4]));
      const h = Math.max(0, Math.min(b[i * 4 + 3], b[j * 4 + 3]) - Math.max(b[i * 4 + 1], b[j * 4 + 1]));
      const aj = (b[j * 4 + 2] - b[j * 4]) * (b[j * 4 + 3] - b[j * 4 + 1]);
      const inter = w * h;
      if (inter > iou * (ai + aj - inter)) suppressed[j] = 1;
    }
  }
  return kept.slice(0, maxDetections);
}

function make(kind: 'clustered' | 'scattered'): Candidates {
  const rand = seededRandom(kind === 'clustered' ? 1 : 2);
  const c: Candidates = { count: N, boxes: new Float32Array(N * 4), scores: new Float32Array(N), classes: new Int32Array(N) };
  const objects = Array.from({ length: 60 }, () => ({ x: rand() * 560, y: rand() * 560, w: 20 + rand() * 200, h: 20 + rand() * 200, cls: Math.floor(rand() * CLASSES) }));
  for (let i = 0; i < N; i++) {
    let x: number, y: number, w: number, h: number, cls: number;
    if (kind === 'clustered') {
      const o = objects[i % objects.length];
      [x, y, w, h, cls] = [o.x + (rand() - 0.5) * 0.2 * o.w, o.y + (rand() - 0.5) * 0.2 * o.h, o.w * (0.85 + rand() * 0.3), o.h * (0.85 + rand() * 0.3), rand() < 0.9 ? o.cls : Math.floor(rand() * CLASSES)];
    } else {
      [x, y, w, h, cls] = [rand() * 630, rand() * 630, 3 + rand() * 10, 3 + rand() * 10, Math.floor(rand() * CLASSES)];
    }
    c.boxes.set([x, y, x + w, y + h], i * 4);
    c.scores[i] = rand();
    c.classes[i] = cls;
  }
  return c;
}

/** Median ms per call over rounds of about `ms` each. */
function time(fn: () => unknown, ms = 400): number {
  for (let i = 0; i < 3; i++) fn();
  const samples: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end || samples.length < 5) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);

console.log(`NMS at ${N} candidates, ${CLASSES} classes, IoU ${IOU}, max_detections ${MAX_DET} (median per call)`);
for (const kind of ['clustered', 'scattered'] as const) {
  const c = make(kind);
  const ours = nms(c, IOU, MAX_DET);
  const base = textbookNms(c, IOU, MAX_DET);
  if (JSON.stringify(ours) !== JSON.stringify(base)) throw new Error(`${kind}: the two versions disagree`);
  const all = nms(c, IOU, N);
  if (JSON.stringify(all) !== JSON.stringify(textbookNms(c, IOU, N))) throw new Error(`${kind}: the two versions disagree without a cap`);
  const tBase = time(() => textbookNms(c, IOU, MAX_DET));
  const tOurs = time(() => nms(c, IOU, MAX_DET));
  const tAll = time(() => nms(c, IOU, N));
  console.log(
    `  ${kind.padEnd(9)} textbook ${fmt(tBase)}, object_detector ${fmt(tOurs)} (${(tBase / tOurs).toFixed(1)}x faster), ` +
      `without the cap ${fmt(tAll)} (${all.length} kept)`,
  );
}

{
  const c = make('clustered');
  if (JSON.stringify([...byScore(c.scores, N)]) !== JSON.stringify([...comparatorSort(c)])) throw new Error('the sorts disagree');
  const tCmp = time(() => comparatorSort(c));
  const tKeys = time(() => byScore(c.scores, N));
  console.log(`  sorting alone: comparator ${fmt(tCmp)}, radix ${fmt(tKeys)} (${(tCmp / tKeys).toFixed(1)}x faster)`);
}

// The whole decode of a YOLOv8 output: [1, 84, 8400], 60 objects' worth of confident cells.
const rand = seededRandom(3);
const data = new Float32Array(84 * N);
const clustered = make('clustered');
for (let i = 0; i < N; i++) {
  const b = clustered.boxes.subarray(i * 4, i * 4 + 4);
  data[i] = (b[0] + b[2]) / 2;
  data[N + i] = (b[1] + b[3]) / 2;
  data[2 * N + i] = b[2] - b[0];
  data[3 * N + i] = b[3] - b[1];
  for (let k = 0; k < CLASSES; k++) data[(4 + k) * N + i] = rand() * 0.05;
  data[(4 + clustered.classes[i]) * N + i] = clustered.scores[i];
}
const tensor = { dims: [1, 84, N], data, type: 'float32' };
const tDecode = time(() => nms(yoloCandidates(tensor, 'yolov8', 0, 0.25), IOU, MAX_DET));
console.log(`  decode [1,84,${N}] (threshold 0.25, ${yoloCandidates(tensor, 'yolov8', 0, 0.25).count} candidates) + NMS: ${fmt(tDecode)} per image`);
