/**
 * Class-wise non-maximum suppression, greedy as torchvision's `batched_nms`: candidates best score first; one is
 * kept unless it overlaps a kept box of its own class by IoU > `iou`; stops at `maxDetections`.
 *
 * Fast because each candidate is compared only with the boxes already kept in its class (never with every later
 * candidate, as the textbook loop does), on flat typed arrays with areas computed once, and the loop ends as soon
 * as `maxDetections` are kept. `npm run bench:nms` measures it against the textbook version at 8,400 candidates.
 */

/** Candidate boxes in one coordinate space: `boxes` holds x1, y1, x2, y2 per candidate. */
export interface Candidates {
  count: number;
  boxes: Float32Array;
  scores: Float32Array;
  classes: Int32Array;
}

const TOP = 0x7f800000; // +Infinity's float32 bits: above every finite non-negative score
const RADIX = 11;
const BUCKETS = 1 << RADIX;
const MASK = BUCKETS - 1;

/**
 * Indices of the candidates in descending order of score (ties by index). A non-negative float32's bits order
 * like its value, so the key TOP − bits (negative and NaN scores last) is sorted by a stable three-pass LSD radix
 * sort on 11-bit digits: linear, no comparator calls. At 8,400 candidates about 10x faster than
 * `sort((a, b) => scores[b] − scores[a])` (`npm run bench:nms`).
 */
export function byScore(scores: Float32Array, count: number): Uint32Array {
  const bits = new Uint32Array(scores.buffer, scores.byteOffset, count);
  let keys = new Uint32Array(count);
  let order = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    keys[i] = TOP - (scores[i] > 0 ? Math.min(bits[i], TOP) : 0);
    order[i] = i;
  }
  let nextKeys = new Uint32Array(count);
  let nextOrder = new Uint32Array(count);
  const counts = new Uint32Array(BUCKETS);
  for (let shift = 0; shift < 32; shift += RADIX) {
    counts.fill(0);
    for (let i = 0; i < count; i++) counts[(keys[i] >>> shift) & MASK]++;
    for (let b = 0, sum = 0; b < BUCKETS; b++) {
      const n = counts[b];
      counts[b] = sum;
      sum += n;
    }
    for (let i = 0; i < count; i++) {
      const at = counts[(keys[i] >>> shift) & MASK]++;
      nextKeys[at] = keys[i];
      nextOrder[at] = order[i];
    }
    [keys, nextKeys] = [nextKeys, keys];
    [order, nextOrder] = [nextOrder, order];
  }
  return order;
}

/** The kept candidates' indices, best first. */
export function nms(c: Candidates, iou: number, maxDetections: number): number[] {
  const { count, boxes, scores, classes } = c;
  const kept: number[] = [];
  if (count === 0 || maxDetections <= 0) return kept;
  const order = byScore(scores, count);
  const area = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const b = i * 4;
    area[i] = Math.max(0, boxes[b + 2] - boxes[b]) * Math.max(0, boxes[b + 3] - boxes[b + 1]);
  }
  const byClass = new Map<number, number[]>();
  for (let o = 0; o < count; o++) {
    const i = order[o];
    let same = byClass.get(classes[i]);
    if (same === undefined) byClass.set(classes[i], (same = []));
    const b = i * 4;
    const x1 = boxes[b];
    const y1 = boxes[b + 1];
    const x2 = boxes[b + 2];
    const y2 = boxes[b + 3];
    const ai = area[i];
    let suppressed = false;
    for (let k = 0; k < same.length; k++) {
      const j = same[k];
      const q = j * 4;
      const w = Math.min(x2, boxes[q + 2]) - Math.max(x1, boxes[q]);
      if (w <= 0) continue;
      const h = Math.min(y2, boxes[q + 3]) - Math.max(y1, boxes[q + 1]);
      if (h <= 0) continue;
      const inter = w * h;
      if (inter > iou * (ai + area[j] - inter)) {
        suppressed = true;
        break;
      }
    }
    if (suppressed) continue;
    same.push(i);
    kept.push(i);
    if (kept.length === maxDetections) break;
  }
  return kept;
}
