/**
 * A segmenter's scores for one image, [C, h, w], turned into a class per pixel at another size (the original
 * image's): scores bilinearly resized (half-pixel centres, as torch's `interpolate(align_corners=False)`), then
 * per pixel the best class and, when asked, its softmax probability. One class (C = 1) is a binary mask: class 1
 * where the logit is above 0, with the sigmoid's probability.
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

/**
 * `scores` holds C planes of h×w starting at `offset`; the map is width×height. Work: C reads and multiply-adds
 * per output pixel (plus C exponentials with probabilities).
 */
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
  const out = new Uint16Array(width * height);
  const probs = withProbabilities ? new Float32Array(width * height) : undefined;
  const xs = axis(width, w);
  const ys = axis(height, h);
  const values = new Float32Array(classes);
  for (let y = 0; y < height; y++) {
    const r0 = ys.lo[y] * w;
    const r1 = ys.hi[y] * w;
    const ty = ys.t[y];
    for (let x = 0; x < width; x++) {
      const x0 = xs.lo[x];
      const x1 = xs.hi[x];
      const tx = xs.t[x];
      const w00 = (1 - tx) * (1 - ty);
      const w01 = tx * (1 - ty);
      const w10 = (1 - tx) * ty;
      const w11 = tx * ty;
      let best = -Infinity;
      let cls = 0;
      for (let c = 0, p = offset; c < classes; c++, p += plane) {
        const v = scores[p + r0 + x0] * w00 + scores[p + r0 + x1] * w01 + scores[p + r1 + x0] * w10 + scores[p + r1 + x1] * w11;
        values[c] = v;
        if (v > best) [best, cls] = [v, c];
      }
      const at = y * width + x;
      if (classes === 1) {
        const s = 1 / (1 + Math.exp(-best));
        out[at] = best > 0 ? 1 : 0;
        if (probs) probs[at] = best > 0 ? s : 1 - s;
        continue;
      }
      out[at] = cls;
      if (probs) {
        let sum = 0;
        for (let c = 0; c < classes; c++) sum += Math.exp(values[c] - best);
        probs[at] = 1 / sum;
      }
    }
  }
  return { width, height, classes: out, probabilities: probs };
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
