/**
 * A segmenter's scores for one image, [C, h, w], turned into a class per pixel at another size (the original
 * image's): softmax over the classes at the model's resolution, the probabilities resized bilinearly (half-pixel
 * centres, as torch's `interpolate(align_corners=False)`), then per pixel the most probable class and its
 * probability. One class (C = 1) is a binary mask: the sigmoid is class 1's probability.
 *
 * Fast where it can be exact: when the four source pixels an output pixel mixes share their best class, that
 * class is also best in the mix (a convex combination keeps the order), so only its probability is resized.
 * Only pixels on a boundary between classes mix every class.
 */

export interface ClassMap {
  width: number;
  height: number;
  /** Class index per pixel, row-major. */
  classes: Uint16Array;
  /** Probability of that class per pixel (only when asked for). */
  probabilities?: Float32Array;
}

/** For each output coordinate: the two source indices and the weight of the second. */
function axis(out: number, src: number): { lo: Int32Array; hi: Int32Array; t: Float32Array } {
  const lo = new Int32Array(out);
  const hi = new Int32Array(out);
  const t = new Float32Array(out);
  const scale = src / out;
  for (let i = 0; i < out; i++) {
    const s = Math.min(src - 1, Math.max(0, (i + 0.5) * scale - 0.5));
    lo[i] = Math.floor(s);
    hi[i] = Math.min(src - 1, lo[i] + 1);
    t[i] = s - lo[i];
  }
  return { lo, hi, t };
}

/** Softmax per source pixel (sigmoid for one class), as C' planes (C' = 2 for one class), and the best class. */
function sourceProbabilities(scores: Float32Array, offset: number, classes: number, plane: number): { probs: Float32Array; best: Uint16Array; planes: number } {
  const planes = classes === 1 ? 2 : classes;
  const probs = new Float32Array(planes * plane);
  const best = new Uint16Array(plane);
  for (let i = 0; i < plane; i++) {
    if (classes === 1) {
      const p = 1 / (1 + Math.exp(-scores[offset + i]));
      probs[i] = 1 - p;
      probs[plane + i] = p;
      best[i] = p > 0.5 ? 1 : 0;
      continue;
    }
    let max = -Infinity;
    let cls = 0;
    for (let c = 0; c < classes; c++) {
      const v = scores[offset + c * plane + i];
      if (v > max) {
        max = v;
        cls = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += probs[c * plane + i] = Math.exp(scores[offset + c * plane + i] - max);
    for (let c = 0; c < classes; c++) probs[c * plane + i] /= sum;
    best[i] = cls;
  }
  return { probs, best, planes };
}

/** `scores` holds C planes of h×w starting at `offset`; the map is width×height. */
export function classMap(
  scores: Float32Array,
  offset: number,
  classes: number,
  h: number,
  w: number,
  width: number,
  height: number,
  withProbabilities: boolean,
): ClassMap {
  const plane = h * w;
  const { probs, best, planes } = sourceProbabilities(scores, offset, classes, plane);
  const out = new Uint16Array(width * height);
  const outProbs = withProbabilities ? new Float32Array(width * height) : undefined;
  const xs = axis(width, w);
  const ys = axis(height, h);
  for (let y = 0; y < height; y++) {
    const r0 = ys.lo[y] * w;
    const r1 = ys.hi[y] * w;
    const ty = ys.t[y];
    for (let x = 0; x < width; x++) {
      const a = r0 + xs.lo[x];
      const b = r0 + xs.hi[x];
      const c = r1 + xs.lo[x];
      const d = r1 + xs.hi[x];
      const tx = xs.t[x];
      const wa = (1 - tx) * (1 - ty);
      const wb = tx * (1 - ty);
      const wc = (1 - tx) * ty;
      const wd = tx * ty;
      const at = y * width + x;
      const k = best[a];
      if (k === best[b] && k === best[c] && k === best[d]) {
        out[at] = k;
        if (outProbs) {
          const p = k * plane;
          outProbs[at] = probs[p + a] * wa + probs[p + b] * wb + probs[p + c] * wc + probs[p + d] * wd;
        }
        continue;
      }
      let top = -Infinity;
      let cls = 0;
      for (let q = 0, p = 0; q < planes; q++, p += plane) {
        const v = probs[p + a] * wa + probs[p + b] * wb + probs[p + c] * wc + probs[p + d] * wd;
        if (v > top) {
          top = v;
          cls = q;
        }
      }
      out[at] = cls;
      if (outProbs) outProbs[at] = top;
    }
  }
  return { width, height, classes: out, probabilities: outProbs };
}

/**
 * TorchServe's answer: rows of pixels, each `[class, probability]` (its image_segmenter stacks the argmax and the
 * max softmax per pixel), probabilities to 4 decimals.
 */
export function torchServeRows(map: ClassMap): number[][][] {
  const rows: number[][][] = new Array(map.height);
  const probs = map.probabilities!;
  for (let y = 0; y < map.height; y++) {
    const row: number[][] = new Array(map.width);
    for (let x = 0, at = y * map.width; x < map.width; x++, at++) {
      row[x] = [map.classes[at], Math.round(probs[at] * 1e4) / 1e4];
    }
    rows[y] = row;
  }
  return rows;
}
